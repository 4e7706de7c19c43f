"""Benchmark: a 10,000-image nested Drive folder imported end to end, then re-imported.

Everything real but Google: embedded PostgreSQL and SeaweedFS, the Drive emulator in its own
process, the API under uvicorn and N worker processes. Prints what it measured in this run;
it asserts correctness (rows, objects, MD5s) but never gates on time.

    make bench                                   # defaults below
    BENCH_WORKERS=2 SOURCE_REQUESTS_PER_SECOND=1000 make bench
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from devstack.ports import free_port
from devstack.postgres import EmbeddedPostgres
from devstack.s3 import EmbeddedS3
from emulators.google_drive import DriveFixture
from migrate.__main__ import apply_migrations

HERE = Path(__file__).parent
FIXTURE = HERE / "ten_thousand.yaml"
ROOT = "bench"
ACCESS_KEY, SECRET_KEY, BUCKET = "benchaccess", "benchsecret", "images"


def main() -> None:
    workers = int(os.environ.get("BENCH_WORKERS", "2"))
    concurrency = os.environ.get("WORKER_CONCURRENCY", "16")
    pace = os.environ.get("SOURCE_REQUESTS_PER_SECOND", "100")
    fixture = DriveFixture.from_yaml(FIXTURE)
    expected = {image.id: image for image in fixture.expected_images(ROOT)}
    total_bytes = sum(image.size for image in expected.values())
    print(
        f"bench: {len(expected)} images, {total_bytes / 1e6:.0f} MB; {workers} worker(s) x "
        f"{concurrency} jobs, pace {pace} req/s",
        flush=True,
    )

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        postgres = EmbeddedPostgres(work / "postgres", free_port())
        s3 = EmbeddedS3(
            work / "s3",
            free_port(),
            ACCESS_KEY,
            SECRET_KEY,
            BUCKET,
            volume_size_limit_mb=256,
            max_volumes=16,
        )
        processes: list[subprocess.Popen[bytes]] = []
        try:
            postgres.start()
            s3.start()
            database_url = postgres.create_database("bench")
            apply_migrations(database_url)
            drive_port, api_port = free_port(), free_port()
            env = {
                **os.environ,
                "DATABASE_URL": database_url,
                "S3_ENDPOINT_URL": s3.endpoint_url,
                "S3_BUCKET": BUCKET,
                "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "GOOGLE_API_KEY": "bench-key",
                "GOOGLE_DRIVE_API_URL": f"http://127.0.0.1:{drive_port}",
                "WORKER_CONCURRENCY": concurrency,
                "SOURCE_REQUESTS_PER_SECOND": pace,
            }
            log = (work / "services.log").open("ab")
            processes.append(
                spawn(
                    [
                        sys.executable,
                        "-m",
                        "emulators.google_drive",
                        "--port",
                        str(drive_port),
                        "--fixture",
                        str(FIXTURE),
                        "--log-level",
                        "warning",
                    ],
                    env,
                    log,
                )
            )
            processes.append(
                spawn(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "api.app:app",
                        "--port",
                        str(api_port),
                        "--log-level",
                        "warning",
                    ],
                    env,
                    log,
                )
            )
            worker_processes = [
                spawn([sys.executable, "-m", "worker"], env, log) for _ in range(workers)
            ]
            processes += worker_processes
            api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=30)
            drive = httpx.Client(base_url=f"http://127.0.0.1:{drive_port}", timeout=30)
            wait_until_up(api, "/healthz")
            wait_until_up(drive, "/_emulator/health")

            first = run_import(api, fixture.link(ROOT), worker_processes)
            verify(database_url, s3, expected)
            served_before = drive.get("/_emulator/stats").json()["bytes_served"]
            again = run_import(api, fixture.link(ROOT), worker_processes)
            served = drive.get("/_emulator/stats").json()["bytes_served"] - served_before

            report(first, again, total_bytes, served)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
            s3.stop()
            postgres.stop()


def spawn(argv: list[str], env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_until_up(client: httpx.Client, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if client.get(path).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{client.base_url}{path} did not come up")


def run_import(
    api: httpx.Client, link: str, workers: list[subprocess.Popen[bytes]]
) -> dict[str, Any]:
    started = time.monotonic()
    response = api.post("/import/google-drive", json={"url": link})
    response.raise_for_status()
    import_id = response.json()["import_id"]
    listed_at = None
    peak_rss = 0
    while True:
        body = api.get(f"/imports/{import_id}").json()
        peak_rss = max(peak_rss, *(rss(worker.pid) for worker in workers))
        if listed_at is None and body["counts"]["discovered"] >= 10_001:
            listed_at = time.monotonic() - started
        if body["status"] in {"completed", "completed_with_errors", "failed"}:
            break
        time.sleep(0.25)
    body["elapsed"] = time.monotonic() - started
    body["listed_after"] = listed_at or body["elapsed"]
    body["peak_worker_rss_mb"] = peak_rss / 1e6
    print(
        f"bench: import {import_id} {body['status']} in {body['elapsed']:.1f} s "
        f"counts={json.dumps(body['counts'])}",
        flush=True,
    )
    return body


def rss(pid: int) -> int:
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return 0


def verify(database_url: str, s3: EmbeddedS3, expected: dict[str, Any]) -> None:
    """Exactly one row and one object per image, each object's MD5 (its ETag, single-part
    uploads) equal to Drive's md5Checksum."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT source_file_id, md5_checksum, size FROM images").fetchall()
    assert len(rows) == len(expected), f"{len(rows)} rows, expected {len(expected)}"
    assert {row[0] for row in rows} == set(expected)
    etags: dict[str, str] = {}
    for page in s3.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            etags[obj["Key"]] = obj["ETag"].strip('"')
    assert len(etags) == len(expected), f"{len(etags)} objects, expected {len(expected)}"
    mismatched = [i for i, image in expected.items() if etags.get(f"google_drive/{i}") != image.md5]
    assert not mismatched, f"{len(mismatched)} objects differ from the source"
    print(f"bench: verified {len(rows)} rows and {len(etags)} objects, all MD5s match", flush=True)


def report(first: dict[str, Any], again: dict[str, Any], total_bytes: int, served: int) -> None:
    files = first["counts"]["imported"]
    print()
    print(f"{'measure':44} value")
    rows = [
        ("first import: elapsed", f"{first['elapsed']:.1f} s"),
        ("first import: files/s", f"{files / first['elapsed']:.0f}"),
        ("first import: MB/s", f"{total_bytes / 1e6 / first['elapsed']:.1f}"),
        ("first import: all 10,001 files discovered after", f"{first['listed_after']:.1f} s"),
        ("first import: peak worker RSS", f"{first['peak_worker_rss_mb']:.0f} MB"),
        ("re-import: elapsed", f"{again['elapsed']:.1f} s"),
        (
            "re-import: unchanged / imported",
            f"{again['counts']['unchanged']} / {again['counts']['imported']}",
        ),
        ("re-import: image bytes served by Drive", f"{served}"),
        ("re-import time / first import time", f"{again['elapsed'] / first['elapsed']:.2f}"),
    ]
    for name, value in rows:
        print(f"{name:44} {value}")


if __name__ == "__main__":
    main()
