"""Benchmark: an archive of BENCH_IMAGES images (default 10,000, BENCH_ARCHIVE_MIB in all,
default 2048) streamed by the API from S3, beside a plain S3 read of the same bytes; the API's
RSS while it streams (issue 25's target: at least 0.8 times the plain read's rate, API RSS
under 150 MB).

One fresh embedded PostgreSQL and SeaweedFS and one API process under uvicorn (its defaults:
ARCHIVE_STORE_CONNECTIONS=32, ARCHIVE_READ_AHEAD_OBJECTS=8). The images are stored as the worker
leaves them (objects, and rows with their CRC-32 recorded), sizes spread 0.5-1.5 times the mean.

1. plain S3 reads of every object on aiohttp, signed as the API signs them: one at a time on
   one connection, then 8 at a time (as many as the archive has requested ahead);
2. GET /imports/{id}/archive from a client in this process (aiohttp, as the plain reads),
   bytes counted and dropped: time to the first byte (the API checks every object with a HEAD
   first), rate over the whole response and from the first byte on, and the API's VmRSS
   sampled every 0.2 s and its VmHWM at the end;
3. a Range from the middle with If-Range: its time and size;
4. with BENCH_VERIFY=1 (default), the archive saved to disk and checked by `unzip -t` and
   Python's zipfile (every entry's CRC-32), outside the timings.

    uv run python bench/archives.py
    BENCH_IMAGES=2000 BENCH_ARCHIVE_MIB=256 uv run python bench/archives.py

Prints figures only; it never fails on them. On a shared machine compare the ratio, not MB/s.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import aiohttp
import httpx
import psycopg

from devstack.ports import free_port
from devstack.postgres import EmbeddedPostgres
from devstack.s3 import EmbeddedS3, ensure_bucket
from domain.s3_signing import RequestSigner, S3Account
from migrate.__main__ import apply_migrations

ACCESS_KEY, SECRET_KEY, BUCKET = "benchaccess", "benchsecret", "images"
IMAGES = int(os.environ.get("BENCH_IMAGES", "10000"))
ARCHIVE_MIB = int(os.environ.get("BENCH_ARCHIVE_MIB", "2048"))
VERIFY = os.environ.get("BENCH_VERIFY", "1") == "1"
MIB = 1024 * 1024
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def seed(s3: EmbeddedS3, database_url: str) -> tuple[str, list[tuple[str, int]]]:
    """IMAGES objects totalling ARCHIVE_MIB, under one import; (import id, [(key, size)])."""
    rng = random.Random(25)
    mean = ARCHIVE_MIB * MIB // IMAGES
    sizes = [rng.randint(mean // 2, mean * 3 // 2) for _ in range(IMAGES)]
    # One block of noise, each object a different slice of it with its own first bytes.
    block = rng.randbytes(max(sizes) + IMAGES)
    client = s3.client()
    objects = []
    rows = []
    for index, size in enumerate(sizes):
        key = f"google_drive/bench-archive-{index:05d}"
        objects.append((key, size))
        rows.append((index, key, size))

    def put(row: tuple[int, str, int]) -> tuple[int, str, int, str]:
        index, key, size = row
        data = block[index : index + size]
        client.put_object(Bucket=BUCKET, Key=key, Body=data, ContentType="image/jpeg")
        return index, key, size, f"{zlib.crc32(data):08x}"

    with ThreadPoolExecutor(16) as pool:
        stored = list(pool.map(put, rows))
    with psycopg.connect(database_url, autocommit=True) as db:
        import_row = db.execute(
            "INSERT INTO imports (source, source_url, folder_id, locator, status)"
            " VALUES ('google_drive', 'bench', %(id)s,"
            " jsonb_build_object('folder_id', %(id)s::text), 'completed') RETURNING id::text",
            {"id": uuid.uuid4().hex},
        ).fetchone()
        assert import_row is not None
        with db.cursor().copy(
            "COPY images (source, source_file_id, import_id, name, mime_type, size, checksums,"
            " storage_key, storage_path, derivative_state) FROM STDIN"
        ) as copy:
            for index, key, size, crc in stored:
                copy.write_row(
                    (
                        "google_drive",
                        key,
                        import_row[0],
                        f"IMG_{index:05d}.jpg",
                        "image/jpeg",
                        size,
                        json.dumps({"crc32": crc}),
                        key,
                        f"s3://{BUCKET}/{key}",
                        "missing",
                    )
                )
    return import_row[0], objects


async def plain_reads(s3: EmbeddedS3, objects: list[tuple[str, int]], at_once: int) -> float:
    """Seconds to GET every object, `at_once` at a time, bytes dropped."""
    signer = RequestSigner(S3Account(s3.endpoint_url, "us-east-1", ACCESS_KEY, SECRET_KEY))
    limit = asyncio.Semaphore(at_once)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=at_once)) as http:

        async def read(key: str, size: int) -> None:
            url = f"{s3.endpoint_url}/{BUCKET}/{quote(key)}"
            async with limit, http.get(url, headers=signer.headers("GET", url, {})) as answer:
                got = 0
                async for chunk in answer.content.iter_any():
                    got += len(chunk)
                assert got == size, (key, got, size)

        started = time.perf_counter()
        await asyncio.gather(*(read(key, size) for key, size in objects))
        return time.perf_counter() - started


def download(url: str, pid: int, sink: Path | None, headers: dict[str, str] | None = None):
    """(bytes, seconds to the first byte, seconds in all, peak VmRSS MB seen, headers). On
    aiohttp, as the plain reads, so that both rates are of the same client."""
    peak = [rss_mb(pid)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], rss_mb(pid))

    async def fetch() -> tuple[int, float, float, dict[str, str]]:
        received, first_byte = 0, 0.0
        out = sink.open("wb") if sink else None
        timeout = aiohttp.ClientTimeout(total=600)
        started = time.perf_counter()
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.get(url, headers=headers or {}) as answer,
            ):
                assert answer.status in (200, 206), await answer.text()
                first_byte = time.perf_counter() - started
                async for chunk in answer.content.iter_any():
                    received += len(chunk)
                    if out:
                        out.write(chunk)
                answer_headers = {k.lower(): v for k, v in answer.headers.items()}
        finally:
            if out:
                out.close()
        return received, first_byte, time.perf_counter() - started, answer_headers

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        received, first_byte, seconds, answer_headers = asyncio.run(fetch())
    finally:
        done.set()
        sampler.join()
    return received, first_byte, seconds, peak[0], answer_headers


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-archives-"))
    postgres = EmbeddedPostgres(work / "postgres", free_port(), fsync=False)
    s3 = EmbeddedS3(work / "s3", free_port(), ACCESS_KEY, SECRET_KEY, BUCKET,
                    volume_size_limit_mb=1024, max_volumes=50)  # fmt: skip
    api: subprocess.Popen[bytes] | None = None
    try:
        postgres.start()
        s3.start()
        ensure_bucket(s3.client(), BUCKET)
        database_url = postgres.create_database("bench")
        apply_migrations(database_url)
        started = time.perf_counter()
        import_id, objects = seed(s3, database_url)
        total = sum(size for _, size in objects)
        print(
            f"seeded {len(objects):,} objects, {total / MIB:,.0f} MiB, in "
            f"{time.perf_counter() - started:.0f} s"
        )

        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "S3_ENDPOINT_URL": s3.endpoint_url,
            "S3_BUCKET": BUCKET,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }
        log = (work / "api.log").open("ab")
        api = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:app", "--port", str(port),
             "--no-access-log"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        idle = rss_mb(api.pid)

        # The weed process, whose CPU the bench reads.
        weed = s3._process.pid if s3._process else 0
        gib = total / 1024 / MIB
        weed_cpu = cpu_seconds(weed)
        one = asyncio.run(plain_reads(s3, objects, 1))
        weed_one = (cpu_seconds(weed) - weed_cpu) / gib
        eight = asyncio.run(plain_reads(s3, objects, 8))
        print(
            f"plain S3 read: one at a time {total / MIB / one:,.0f} MiB/s ({one:.1f} s); "
            f"8 at a time {total / MIB / eight:,.0f} MiB/s ({eight:.1f} s); S3 server "
            f"{weed_one:.1f} CPU-s per GiB"
        )

        url = f"{base}/imports/{import_id}/archive"
        api_cpu, weed_cpu = cpu_seconds(api.pid), cpu_seconds(weed)
        size, first_byte, seconds, peak, headers = download(url, api.pid, None)
        api_cpu, weed_cpu = cpu_seconds(api.pid) - api_cpu, cpu_seconds(weed) - weed_cpu
        rate = size / MIB / seconds
        print(
            f"archive: {size / MIB:,.0f} MiB ({size:,} bytes, Content-Length "
            f"{headers['content-length']}) in {seconds:.1f} s = {rate:,.0f} MiB/s; first byte "
            f"after {first_byte:.2f} s ({len(objects):,} objects checked first)"
        )
        streaming = seconds - first_byte
        print(
            f"  ratio to the plain read: {one / seconds:.2f} x one at a time, "
            f"{eight / seconds:.2f} x 8 at a time (target >= 0.8); from the first byte on "
            f"{size / MIB / streaming:,.0f} MiB/s = {one / streaming:.2f} x one at a time"
        )
        print(
            f"  CPU per GiB: API {api_cpu / gib:.1f} s, S3 server {weed_cpu / gib:.1f} s "
            f"(HEADs included)"
        )
        print(
            f"  API RSS: {idle:.0f} MB idle, {peak:.0f} MB peak while streaming, VmHWM "
            f"{rss_mb(api.pid, 'VmHWM'):.0f} MB (target < 150 MB)"
        )

        middle = size // 2
        part, first_byte, seconds, _, part_headers = download(
            url, api.pid, None, {"Range": f"bytes={middle}-", "If-Range": headers["etag"]}
        )
        print(
            f"range from the middle: {part_headers.get('content-range')}, {part / MIB:,.0f} MiB "
            f"in {seconds:.1f} s, first byte after {first_byte:.2f} s"
        )

        if VERIFY:
            path = work / "archive.zip"
            download(url, api.pid, path)
            started = time.perf_counter()
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
                entries = len(archive.infolist())
            print(
                f"zipfile: {entries:,} entries, first bad: {bad} "
                f"({time.perf_counter() - started:.0f} s)"
            )
            if shutil.which("unzip"):
                tested = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True)
                print(f"unzip -t: {tested.stdout.strip() or tested.stderr.strip()}")
            path.unlink()
    finally:
        if api is not None:
            api.terminate()
            api.wait()
        s3.stop()
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
