"""Micro-benchmark: the per-file transfer floor (issue 12).

The worker's own `GoogleDriveConnector` and `ObjectStore`, with no pacing and no database,
move N files of about 150 KB from the Drive emulator (its own process) into SeaweedFS (its own
process), 16 at a time. Beside it, in the same run, `rclone copy` PUTs the same number of files
of the same sizes from a local folder into the same S3, so the S3 server's CPU per object is
measured for both clients on the same server.

    uv run python bench/transfer_floor.py                 # 3,000 files
    BENCH_FILES=1000 BENCH_PUTS=0 uv run python bench/transfer_floor.py

Reported: files/s, CPU-ms per file of this process (every thread: download, hashing, boto3),
CPU-s per 1,000 objects of the `weed` process; then BENCH_PUTS (default up to 1,000) bare
boto3 PUTs per variant of what botocore adds to a PUT, to price each on both ends; and the
request heads each client sends for a small object (through a logging proxy, outside the
timed runs). It asserts that every object arrived with the source's MD5, but never gates on
time. On a shared machine, compare CPU per file rather than files/s.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import yaml
from botocore.config import Config
from botocore.handlers import add_expect_header

from devstack.ports import free_port
from devstack.s3 import EmbeddedS3, s3_client
from domain.sources.google_drive import GoogleDriveSettings
from worker.pacing import NoPacing
from worker.settings import Settings
from worker.sources.base import FolderRef, SourceFile
from worker.sources.google_drive import GoogleDriveConnector
from worker.storage.object_store import ObjectStore

try:  # The source client as the worker builds it, where the worker has that module.
    from worker.http_client import create_source_client
except ImportError:  # pragma: no cover - the code before issue 12

    def create_source_client(settings: Settings) -> httpx.AsyncClient:
        timeout = httpx.Timeout(settings.source_timeout_seconds, connect=10.0)
        limits = httpx.Limits(max_connections=settings.worker_concurrency * 2)
        return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=True)


ACCESS_KEY, SECRET_KEY, BUCKET = "benchaccess", "benchsecret", "images"
ROOT = "floor"
SIZE_RANGE = (140_000, 160_000)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    name: str
    files: int
    seconds: float
    client_cpu: float
    weed_cpu: float

    def row(self) -> str:
        return (
            f"{self.name:34} {self.files:6d} {self.files / self.seconds:8.0f} "
            f"{self.client_cpu * 1000 / self.files:10.2f} {self.weed_cpu * 1000 / self.files:10.2f}"
        )


def main() -> None:
    count = int(os.environ.get("BENCH_FILES", "3000"))
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "16"))
    # Names the worker code measured, when comparing versions of it in one table.
    label = os.environ.get("BENCH_LABEL", "worker code")
    rclone = shutil.which("rclone")
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        work = Path(tmp)
        fixture_path = work / "fixture.yaml"
        fixture_path.write_text(
            yaml.safe_dump(
                {
                    "seed": 12,
                    "folders": [
                        {
                            "name": ROOT,
                            "files": [
                                {
                                    "name_pattern": "img_{i:05d}.jpg",
                                    "count": count,
                                    "size": list(SIZE_RANGE),
                                }
                            ],
                        }
                    ],
                }
            )
        )
        s3 = EmbeddedS3(
            work / "s3", free_port(), ACCESS_KEY, SECRET_KEY, BUCKET, volume_size_limit_mb=256
        )
        drive_port = free_port()
        log = (work / "drive.log").open("ab")
        drive = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emulators.google_drive",
                "--port",
                str(drive_port),
                "--fixture",
                str(fixture_path),
                "--log-level",
                "warning",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            s3.start()
            weed_pid = int((s3.data_dir / "weed.pid").read_text())
            # The connector reads its own settings (GOOGLE_*), as in the worker.
            os.environ["GOOGLE_API_KEY"] = "bench-key"
            os.environ["GOOGLE_DRIVE_API_URL"] = f"http://127.0.0.1:{drive_port}"
            settings = Settings(
                s3_endpoint_url=s3.endpoint_url,
                s3_bucket=BUCKET,
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY,
                worker_concurrency=concurrency,
            )
            wait_until_up(f"http://127.0.0.1:{drive_port}/_emulator/health")
            print(
                f"bench: {count} files of {SIZE_RANGE[0] // 1000}-{SIZE_RANGE[1] // 1000} kB, "
                f"{concurrency} at a time; {os.cpu_count()} CPUs",
                flush=True,
            )
            idle = weed_idle_cpu(weed_pid)
            runs = [asyncio.run(ours(settings, weed_pid, concurrency, f"ours ({label})"))]
            if rclone:
                runs.append(rclone_run(rclone, s3, work, count, concurrency, weed_pid))
            else:
                print("bench: rclone not found (apt-get install -y rclone); skipped", flush=True)
            report(runs, idle, concurrency)
            puts = int(os.environ.get("BENCH_PUTS", str(min(count, 1000))))
            if puts:
                put_variants(settings, weed_pid, puts, concurrency)
            print("\nrequest heads for one ~150 kB object (through a logging proxy)")
            print(asyncio.run(inspect_ours(settings)))
            if rclone:
                print(inspect_rclone(rclone, s3, work))
        finally:
            drive.terminate()
            drive.wait(timeout=30)
            s3.stop()


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of `pid` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def weed_idle_cpu(pid: int, seconds: float = 3.0) -> float:
    """What weed burns doing nothing (heartbeats), per second, to judge the runs' figures."""
    before = process_cpu(pid)
    time.sleep(seconds)
    return (process_cpu(pid) - before) / seconds


async def list_files(connector: GoogleDriveConnector, folder: FolderRef) -> list[SourceFile]:
    files: list[SourceFile] = []
    token: str | None = None
    while True:
        page = await connector.list_page(folder, token)
        files += page.files
        token = page.next_page_token
        if not token:
            return files


def drive_connector(settings: Settings, http: httpx.AsyncClient) -> GoogleDriveConnector:
    drive = GoogleDriveSettings()
    return GoogleDriveConnector(
        http,
        api_url=drive.drive_api_url,
        api_key=drive.api_key,
        page_size=1000,
        pacer=NoPacing(),
    )


async def root_folder(http: httpx.AsyncClient, settings: Settings) -> FolderRef:
    base = GoogleDriveSettings().drive_api_url
    answer = await http.get(f"{base}/_emulator/fixture")
    answer.raise_for_status()
    for root in answer.json()["roots"]:
        if root["name"] == ROOT:
            return FolderRef(root["id"], root.get("resource_key"))
    raise RuntimeError(f"no root folder {ROOT!r} in the emulator")


async def ours(settings: Settings, weed_pid: int, concurrency: int, name: str) -> Run:
    store = ObjectStore(settings)
    try:
        async with create_source_client(settings) as http:
            connector = drive_connector(settings, http)
            files = await list_files(connector, await root_folder(http, settings))
            # One file first, outside the clock: connection pools and imports warm up.
            await transfer(connector, store, files[0])
            semaphore = asyncio.Semaphore(concurrency)

            async def one(file: SourceFile) -> None:
                async with semaphore:
                    await transfer(connector, store, file)

            cpu, weed, started = own_cpu(), process_cpu(weed_pid), time.monotonic()
            await asyncio.gather(*(one(file) for file in files))
            seconds = time.monotonic() - started
            run = Run(name, len(files), seconds, own_cpu() - cpu, process_cpu(weed_pid) - weed)
    finally:
        await store.aclose()
    verify(settings, files)
    return run


async def transfer(connector: GoogleDriveConnector, store: ObjectStore, file: SourceFile) -> None:
    async with connector.open_file(file) as chunks:
        await store.upload(
            ObjectStore.key_for("google_drive", file.file_id),
            chunks,
            content_type=file.mime_type,
            expected_size=file.size,
            expected_checksums=file.checksums,
        )


def verify(settings: Settings, files: list[SourceFile]) -> None:
    """Every object is there with the source's MD5 as its ETag (single PUTs)."""
    client: Any = s3_client(
        str(settings.s3_endpoint_url),
        str(settings.aws_access_key_id),
        str(settings.aws_secret_access_key),
        settings.aws_region,
    )
    etags: dict[str, str] = {}
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=settings.s3_bucket, Prefix="google_drive/"
    ):
        for obj in page.get("Contents", []):
            etags[obj["Key"]] = obj["ETag"].strip('"')
    wrong = [
        file
        for file in files
        if etags.get(ObjectStore.key_for("google_drive", file.file_id)) != file.checksums.get("md5")
    ]
    assert not wrong, f"{len(wrong)} of {len(files)} objects missing or differing from the source"


def rclone_env() -> dict[str, str]:
    # rclone's AWS SDK refuses to start with AWS_CA_BUNDLE set ("HTTPClient's transport
    # unsupported type"); the endpoint is plain HTTP anyway.
    return {name: value for name, value in os.environ.items() if name != "AWS_CA_BUNDLE"}


def rclone_flags(s3: EmbeddedS3) -> list[str]:
    return [
        "--quiet",
        "--s3-provider",
        "Other",
        "--s3-endpoint",
        s3.endpoint_url,
        "--s3-access-key-id",
        s3.access_key,
        "--s3-secret-access-key",
        s3.secret_key,
        "--s3-region",
        s3.region,
        "--s3-force-path-style",
    ]


def local_files(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    numbers = random.Random(12)
    for index in range(count):
        size = numbers.randint(*SIZE_RANGE)
        (folder / f"img_{index:05d}.jpg").write_bytes(os.urandom(size))


def rclone_run(
    rclone: str, s3: EmbeddedS3, work: Path, count: int, concurrency: int, weed_pid: int
) -> Run:
    source = work / "local"
    local_files(source, count)
    argv = [
        rclone,
        "copy",
        str(source),
        f":s3:{BUCKET}/rclone",
        *rclone_flags(s3),
        "--transfers",
        str(concurrency),
        "--checkers",
        str(concurrency),
        # The bucket exists; don't list the destination before copying (no HEAD per object).
        "--no-check-dest",
        "--s3-no-check-bucket",
    ]
    cpu, weed, started = children_cpu(), process_cpu(weed_pid), time.monotonic()
    subprocess.run(argv, check=True, env=rclone_env())
    seconds = time.monotonic() - started
    return Run(
        "rclone copy (local -> S3)",
        count,
        seconds,
        children_cpu() - cpu,
        process_cpu(weed_pid) - weed,
    )


def report(runs: list[Run], weed_idle: float, concurrency: int) -> None:
    print()
    print(
        f"{'run':34} {'files':>6} {'files/s':>8} {'client':>10} {'S3 (weed)':>10}\n"
        f"{'':34} {'':6} {'':8} {'CPU-ms/file':>10} {'CPU-s/1000':>10}"
    )
    for run in runs:
        print(run.row())
    print(
        f"(weed idles at {weed_idle * 1000:.0f} CPU-ms/s; client CPU is this process for ours, "
        "the rclone process for rclone, which reads local files instead of downloading)"
    )


# What each kind of PUT asks of both ends, one thing at a time: botocore's defaults (payload
# SHA-256 signed over plain HTTP, a CRC32 flexible checksum, Expect: 100-continue) beside the
# Content-MD5 every variant sends.
PUT_VARIANTS: dict[str, tuple[bool | None, str, bool]] = {
    "botocore defaults": (None, "when_supported", True),
    "  payload unsigned": (False, "when_supported", True),
    "  no CRC32 (when_required)": (None, "when_required", True),
    "  no Expect: 100-continue": (None, "when_supported", False),
    "all three": (False, "when_required", False),
}


def put_variants(
    settings: Settings, weed_pid: int, count: int, concurrency: int, rounds: int = 3
) -> None:
    """`count` PUTs of one 150 kB body per variant, straight from boto3 threads, so the S3
    server's CPU per object is measured without the download beside it. The variants take
    turns over `rounds` rounds, so a change in the machine's load falls on all of them."""
    data = os.urandom(150_000)
    md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
    clients = {name: variant_client(settings, concurrency, *v) for name, v in PUT_VARIANTS.items()}
    totals = {name: [0.0, 0.0, 0.0] for name in PUT_VARIANTS}  # seconds, client, weed
    per_round = max(1, count // rounds)
    with ThreadPoolExecutor(concurrency) as threads:
        for round_number in range(rounds):
            for name, client in clients.items():

                def put(index: int, client: Any = client, name: str = name) -> None:
                    client.put_object(
                        Bucket=settings.s3_bucket,
                        Key=f"variants/{name.strip().replace(' ', '-')}/{index}",
                        Body=data,
                        ContentMD5=md5,
                        ContentType="image/jpeg",
                    )

                if round_number == 0:  # connections open, outside the clock
                    list(threads.map(put, range(concurrency)))
                cpu, weed, started = own_cpu(), process_cpu(weed_pid), time.monotonic()
                list(threads.map(put, range(per_round)))
                total = totals[name]
                total[0] += time.monotonic() - started
                total[1] += own_cpu() - cpu
                total[2] += process_cpu(weed_pid) - weed
    puts = per_round * rounds
    print(
        f"\nS3 PUTs alone: {puts} x 150 kB per variant ({rounds} rounds, taking turns), "
        f"{concurrency} threads, all with Content-MD5"
    )
    print(f"{'variant':34} {'PUTs/s':>8} {'client':>11} {'S3 (weed)':>10}")
    print(f"{'':34} {'':8} {'CPU-ms/PUT':>11} {'CPU-s/1000':>10}")
    for name, (seconds, client_cpu, weed_cpu) in totals.items():
        print(
            f"{name:34} {puts / seconds:8.0f} {client_cpu * 1000 / puts:11.2f} "
            f"{weed_cpu * 1000 / puts:10.2f}"
        )


def variant_client(
    settings: Settings, concurrency: int, signing: bool | None, checksums: str, expect: bool
) -> Any:
    s3_options: dict[str, Any] = {"addressing_style": "path"}
    if signing is not None:
        s3_options["payload_signing_enabled"] = signing
    client: Any = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        region_name=settings.aws_region,
        config=Config(
            s3=s3_options,
            request_checksum_calculation=checksums,
            response_checksum_validation=checksums,
            max_pool_connections=concurrency,
        ),
    )
    if not expect:
        client.meta.events.unregister("before-call.s3", add_expect_header)
    return client


class HeadLoggingProxy:
    """A TCP proxy in front of S3 that records each request's head (request line and
    headers) as it passes, so two clients' requests can be compared."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.heads: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                downstream, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(
                target=self._pump, args=(downstream, upstream, self._record), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(upstream, downstream, None), daemon=True
            ).start()

    def _record(self, data: bytes) -> None:
        # Heads are found by their request line; bodies of the benchmark's files rarely start
        # with an HTTP method, and a match only adds a line to the output.
        for method in (b"PUT ", b"POST ", b"GET ", b"HEAD ", b"DELETE "):
            start = data.find(method)
            while start != -1:
                end = data.find(b"\r\n\r\n", start)
                if end == -1:
                    break
                head = data[start:end].decode("latin-1")
                if " HTTP/1." in head.split("\r\n", 1)[0]:
                    self.heads.append(head)
                start = data.find(method, end)

    @staticmethod
    def _pump(
        source: socket.socket, sink: socket.socket, record: Callable[[bytes], None] | None
    ) -> None:
        with source, sink:
            while True:
                try:
                    data = source.recv(1 << 16)
                except OSError:
                    return
                if not data:
                    with contextlib.suppress(OSError):
                        sink.shutdown(socket.SHUT_WR)
                    return
                if record is not None:
                    record(data)
                sink.sendall(data)

    def close(self) -> None:
        self._stopped = True
        self._server.close()

    def describe(self, title: str, keep: Callable[[str], bool]) -> str:
        heads = [head for head in self.heads if keep(head)]
        lines = [f"--- {title}: {len(heads)} request(s) for the object"]
        for head in heads:
            request_line, *headers = head.split("\r\n")
            lines.append(f"  {request_line}")
            lines += [f"    {header}" for header in headers]
        return "\n".join(lines)


async def inspect_ours(settings: Settings) -> str:
    proxy = HeadLoggingProxy(int(str(settings.s3_endpoint_url).rsplit(":", 1)[1]))
    proxied = settings.model_copy(update={"s3_endpoint_url": f"http://127.0.0.1:{proxy.port}"})
    store = ObjectStore(proxied)
    try:
        async with create_source_client(settings) as http:
            connector = drive_connector(settings, http)
            files = await list_files(connector, await root_folder(http, settings))
            file = files[0]
            proxy.heads.clear()
            await transfer(connector, store, file)
            # One more, on the now open connection, as nearly every object is sent.
            await transfer(connector, store, files[1])
    finally:
        await store.aclose()
        proxy.close()
    return proxy.describe("ours", lambda head: "/google_drive/" in head.split("\r\n", 1)[0])


def inspect_rclone(rclone: str, s3: EmbeddedS3, work: Path) -> str:
    proxy = HeadLoggingProxy(s3.port)
    source = work / "one"
    local_files(source, 2)
    proxied = [
        *rclone_flags(s3),
        "--s3-endpoint",
        f"http://127.0.0.1:{proxy.port}",
    ]
    try:
        subprocess.run(
            [
                rclone,
                "copy",
                str(source),
                f":s3:{BUCKET}/inspect",
                *proxied,
                "--transfers",
                "1",
                "--no-check-dest",
                "--s3-no-check-bucket",
            ],
            check=True,
            env=rclone_env(),
        )
    finally:
        proxy.close()
    return proxy.describe("rclone", lambda head: "/inspect/" in head.split("\r\n", 1)[0])


if __name__ == "__main__":
    main()
