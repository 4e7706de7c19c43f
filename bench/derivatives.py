"""Benchmark: derivatives (thumbnail and facts) per second of one worker process, its CPU per
derivative and peak RSS, on a realistic mix; and an import's time with derivatives off, then
on while a backlog of them runs beside its transfers.

One fresh embedded PostgreSQL and SeaweedFS, one `python -m worker` process at a time (its
defaults: WORKER_CONCURRENCY=16, DERIVATIVE_CONCURRENCY=1).

1. alone: per format, BENCH_EACH images (default 8) of one real file are stored as an import of
   the previous version leaves them (objects and rows without derivatives), the backfill's SQL
   function queues them, and the clock runs until the worker has recorded every one. The mix:
   a 24 MP JPEG (6000 x 4000, q=92), a 12 MP HEIC (4032 x 3024), a large PNG (4000 x 3000, RGB)
   and an animated GIF (800 x 600, 10 frames). The pictures are smooth noise, harder to
   compress than photos: the files are larger than a camera's for the same pixels.
2. beside transfers: an import of BENCH_FILES (default 2,000) ~150 KB files from the Drive
   emulator with DERIVATIVES_ENABLED=false, then another folder of the same shape with
   derivatives on and the alone-phase mix queued again at the import's start. The import's
   time is from its own timestamps; peak RSS is the worker's VmHWM. (The emulator's bytes only
   start like images, so the import's own derivatives are refusals, cheap; the mix is the
   real decoding load.)

    uv run python bench/derivatives.py
    BENCH_EACH=4 BENCH_FILES=1000 uv run python bench/derivatives.py

CPU is read from /proc/<pid>/stat; on a shared machine wall-clock moves with the neighbours'
load, CPU per derivative much less.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pillow_heif
import psycopg
from PIL import Image

from devstack.ports import free_port
from devstack.postgres import EmbeddedPostgres
from devstack.s3 import EmbeddedS3, ensure_bucket
from migrate.__main__ import apply_migrations

pillow_heif.register_heif_opener()

ACCESS_KEY, SECRET_KEY, BUCKET = "benchaccess", "benchsecret", "images"
TICKS = os.sysconf("SC_CLK_TCK")
EACH = int(os.environ.get("BENCH_EACH", "8"))
FILES = int(os.environ.get("BENCH_FILES", "2000"))


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    small = Image.effect_noise((width // 8, height // 8), 50 + seed).convert("RGB")
    return small.resize((width, height), Image.Resampling.BICUBIC)


def the_mix() -> dict[str, tuple[str, bytes]]:
    """Format → (MIME type, bytes)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9003] = "2023:07:14 09:30:05"
    files: dict[str, tuple[str, bytes]] = {}
    body = io.BytesIO()
    noise(6000, 4000).save(body, "JPEG", quality=92, exif=exif.tobytes())
    files["24 MP JPEG"] = ("image/jpeg", body.getvalue())
    body = io.BytesIO()
    noise(4032, 3024).save(body, "HEIF", quality=80, exif=exif.tobytes())
    files["12 MP HEIC"] = ("image/heic", body.getvalue())
    body = io.BytesIO()
    noise(4000, 3000).save(body, "PNG")
    files["12 MP PNG"] = ("image/png", body.getvalue())
    body = io.BytesIO()
    frames = [noise(800, 600, seed=i).convert("P") for i in range(10)]
    frames[0].save(body, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    files["animated GIF"] = ("image/gif", body.getvalue())
    return files


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Bench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.postgres = EmbeddedPostgres(work / "postgres", free_port(), fsync=False)
        self.s3 = EmbeddedS3(work / "s3", free_port(), ACCESS_KEY, SECRET_KEY, BUCKET,
                             volume_size_limit_mb=1024, max_volumes=50)  # fmt: skip
        self.log = (work / "services.log").open("ab")
        self.database_url = ""

    def start(self) -> None:
        self.postgres.start()
        self.s3.start()
        ensure_bucket(self.s3.client(), BUCKET)
        self.database_url = self.postgres.create_database("bench")
        apply_migrations(self.database_url)

    def stop(self) -> None:
        self.s3.stop()
        self.postgres.stop()

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "S3_ENDPOINT_URL": self.s3.endpoint_url,
            "S3_BUCKET": BUCKET,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "METRICS_PORT": "0",
            "SOURCE_REQUESTS_PER_SECOND": "100000",
            # 8 images a job, as the figures in the README were measured.
            "DERIVATIVE_BATCH_IMAGES": "8",
            **extra,
        }

    def spawn(self, *argv: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, *argv], env=env, stdout=self.log,
                                stderr=subprocess.STDOUT)  # fmt: skip

    def seed(self, mime_type: str, data: bytes, count: int) -> None:
        """`count` copies of one file, stored without derivatives."""
        client = self.s3.client()
        with psycopg.connect(self.database_url, autocommit=True) as db:
            row = db.execute(
                "INSERT INTO imports (source, source_url, folder_id, locator, status)"
                " VALUES ('google_drive', 'bench', %(id)s,"
                " jsonb_build_object('folder_id', %(id)s::text), 'completed') RETURNING id",
                {"id": uuid.uuid4().hex},
            ).fetchone()
            assert row is not None
            for _ in range(count):
                key = f"google_drive/bench-{uuid.uuid4().hex}"
                client.put_object(Bucket=BUCKET, Key=key, Body=data, ContentType=mime_type)
                db.execute(
                    "INSERT INTO images (source, source_file_id, import_id, name, mime_type,"
                    " size, storage_key, storage_path, derivative_state)"
                    " VALUES ('google_drive', %s, %s, 'bench', %s, %s, %s, %s, 'missing')",
                    (key, row[0], mime_type, len(data), key, f"s3://{BUCKET}/{key}"),
                )

    def queue_and_wait(self, worker: subprocess.Popen[bytes]) -> tuple[int, float, float]:
        """Backfill every image without derivatives; (images, seconds, worker CPU seconds)."""
        started, cpu = time.monotonic(), cpu_seconds(worker.pid)
        with psycopg.connect(self.database_url, autocommit=True) as db:
            row = db.execute("SELECT queue_image_derivatives(100000)").fetchone()
            queued = row[0] if row else 0
            self.wait_for_derivatives(db)
        return queued, time.monotonic() - started, cpu_seconds(worker.pid) - cpu

    @staticmethod
    def wait_for_derivatives(db: Any) -> None:
        while True:
            row = db.execute(
                "SELECT count(*) FROM images"
                " WHERE derivative_state IN ('requested', 'pending', 'missing')"
            ).fetchone()
            if not row[0]:
                return
            time.sleep(0.1)


def start_worker(bench: Bench, env: dict[str, str]) -> subprocess.Popen[bytes]:
    worker = bench.spawn("-m", "worker", env=env)
    time.sleep(3)  # connects and starts polling
    return worker


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=60)


def alone(bench: Bench, mix: dict[str, tuple[str, bytes]]) -> None:
    print(f"\n1. derivatives alone, one worker process, {EACH} of each")
    print("| file | bytes | derivatives/s | CPU ms per derivative |")
    print("|---|---:|---:|---:|")
    worker = start_worker(bench, bench.env())
    total_images, total_seconds, total_cpu = 0, 0.0, 0.0
    try:
        for name, (mime_type, data) in mix.items():
            bench.seed(mime_type, data, EACH)
            images, seconds, cpu = bench.queue_and_wait(worker)
            total_images, total_seconds, total_cpu = (
                total_images + images, total_seconds + seconds, total_cpu + cpu
            )  # fmt: skip
            print(
                f"| {name} | {len(data):,} | {images / seconds:.1f} | {1000 * cpu / images:.0f} |"
            )
        print(
            f"| the mix | | {total_images / total_seconds:.1f} |"
            f" {1000 * total_cpu / total_images:.0f} |"
        )
        print(f"peak RSS of the worker: {peak_rss_mb(worker.pid):.0f} MB")
    finally:
        stop(worker)


def beside_transfers(bench: Bench, mix: dict[str, tuple[str, bytes]]) -> None:
    spec = bench.work / "fixture.yaml"
    spec.write_text(
        "seed: 15\nfolders:\n"
        + "".join(
            f"  - name: {root}\n    files:\n"
            f'      - {{name_pattern: "IMG_{{i:05d}}.jpg", count: {FILES},'
            " size: [100000, 200000]}\n"
            for root in ("without", "with")
        )
    )
    drive_port, api_port = free_port(), free_port()
    env = bench.env(
        GOOGLE_API_KEY="bench", GOOGLE_DRIVE_API_URL=f"http://127.0.0.1:{drive_port}",
        START_RATE_LIMIT_PER_MINUTE="0",
    )  # fmt: skip
    emulator = bench.spawn("-m", "emulators.google_drive", "--port", str(drive_port),
                           "--fixture", str(spec), "--log-level", "warning", env=env)  # fmt: skip
    api = bench.spawn("-m", "uvicorn", "api.app:app", "--port", str(api_port),
                      "--log-level", "warning", env=env)  # fmt: skip
    print(f"\n2. an import of {FILES:,} files of ~150 KB, one worker process")
    print(
        "| derivatives | import s | files/s | worker CPU s during the import |"
        " every derivative recorded after | worker peak RSS MB |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    try:
        time.sleep(3)
        for root, enabled in (("without", "false"), ("with", "true")):
            worker = start_worker(bench, {**env, "DERIVATIVES_ENABLED": enabled})
            try:
                if enabled == "true":
                    for mime_type, data in mix.values():
                        bench.seed(mime_type, data, EACH)
                cpu = cpu_seconds(worker.pid)
                seconds = import_folder(
                    api_port, drive_port, root, bench, backlog=enabled == "true"
                )
                cpu = cpu_seconds(worker.pid) - cpu
                label = "off" if enabled == "false" else f"on, {EACH * len(mix)} of the mix beside"
                after = "-"
                if enabled == "true":
                    # Peak RSS is read once the derivatives, which wait for the transfers, ran.
                    with psycopg.connect(bench.database_url, autocommit=True) as db:
                        started = time.monotonic()
                        bench.wait_for_derivatives(db)
                        after = f"{time.monotonic() - started:.1f} s"
                print(f"| {label} | {seconds:.1f} | {FILES / seconds:.0f} | {cpu:.1f} | {after} |"
                      f" {peak_rss_mb(worker.pid):.0f} |", flush=True)  # fmt: skip
            finally:
                stop(worker)
    finally:
        stop(api)
        stop(emulator)


def import_folder(
    api_port: int, drive_port: int, root: str, bench: Bench, *, backlog: bool
) -> float:
    with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=60) as api:
        fixture = httpx.get(f"http://127.0.0.1:{drive_port}/_emulator/fixture").json()
        link = next(r["link"] for r in fixture["roots"] if r["name"] == root)
        response = api.post("/import/google-drive", json={"url": link}).raise_for_status()
        import_id = response.json()["import_id"]
        if backlog:
            with psycopg.connect(bench.database_url, autocommit=True) as db:
                db.execute("SELECT queue_image_derivatives(100000)")
        while True:
            body = api.get(f"/imports/{import_id}").raise_for_status().json()
            if body["status"] not in {"queued", "running"}:
                break
            time.sleep(0.2)
    assert body["status"] == "completed", body
    started = body["started_at"] or body["created_at"]
    return parse(body["finished_at"]) - parse(started)


def parse(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def main() -> None:
    mix = the_mix()
    with tempfile.TemporaryDirectory(prefix="bench-derivatives-") as work:
        bench = Bench(Path(work))
        bench.start()
        try:
            alone(bench, mix)
            beside_transfers(bench, mix)
        finally:
            bench.stop()


if __name__ == "__main__":
    main()
