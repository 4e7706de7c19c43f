"""Benchmark: our import pipeline against `rclone copy` and a bare-transfer floor, in one run.

Per scenario, on this machine, from one Drive emulator process into one SeaweedFS S3 (each side
into its own bucket), with a fresh embedded PostgreSQL:

- ours: POST /import/google-drive to the API (uvicorn) and one `python -m worker` running N
  worker processes (WORKER_PROCESSES=N: with N above 1 a supervisor and N children, 16 jobs
  each), the pace lifted (SOURCE_REQUESTS_PER_SECOND=100000 unless set); finished when GET
  /imports/{id} says so.
- rclone: `rclone copy :http: :s3:rclone` from the emulator's test-only HTML index
  (`/_emulator/index/`, the same bytes as `alt=media`), `--transfers 16 --checkers 16`, no
  config file.
- floor: bench/bare_transfer.py, the worker's own connector and object store listing and
  streaming with 16 transfers at once: no queue, no database.

Before any figure is printed, every side's bucket is checked: exactly one object per expected
image, each object's MD5 (its ETag, or its bytes when multipart) equal to the fixture's; for ours
also exactly one `images` row per image with the right size and MD5. It asserts correctness
only, never time. The emulator's checksums are computed once before the first side runs, so
no side pays for them. CPU is read from /proc/<pid>/stat (utime+stime, with reaped children);
rclone's and the floor's come from wait4() when they exit. "rest of the machine" is the busy CPU
(/proc/stat) not in the other rows: this harness, and whatever else runs on a shared machine,
which also slows every side's wall-clock; CPU per file is the steadier figure. The embedded
PostgreSQL has no pg_stat_statements, so statements are reported as transactions
(pg_stat_database xact_commit + xact_rollback) per file.

The bucket scenario reads a public S3 bucket instead of Drive: the fixture's files are put
into a bucket of the same SeaweedFS (before anything is measured) and made public by a bucket
policy; ours imports `s3+http://<S3>/public/<root>/` (the public_s3 source, anonymous, with
PUBLIC_S3_ALLOWED_NETWORKS=127.0.0.0/8), rclone runs `rclone copy :s3:public/<root>
:s3,...:rclone` (no credentials for the source, so anonymous), and the floor is
bare_transfer.py with the same link. No Drive emulator runs; SeaweedFS serves both sides.

Scenarios (BENCH_SCENARIOS=comma,separated picks; default all but wan, quota and fairness, in
this order, after quota and fairness when they are picked):
  flat      10,000 images of ~150 KB in one folder, 1 worker
  nested    10,000 images of ~150 KB in a 3-level tree (bench/nested_10k.yaml), 1 worker
  100k      100,000 images of ~20 KB in one folder, 1 worker; also: time until every file is
            discovered, and a re-import (and an rclone re-copy) of the unchanged folder
  2gib      one 2 GiB image, 1 worker: peak worker RSS, multipart
  workers2  flat with 2 worker processes; rclone and the floor are flat's when flat ran in
            this run (same fixture), else run again
  wan       2,000 images of ~150 KB in one folder (bench/flat_2k.yaml), 1 worker, in WAN mode
  quota     ours behind Drive's per-user quota (10 requests/s), pace lifted: bench/source_limits.py
  fairness  a 20-image import alone and 30 s into a large one (ours): bench/source_limits.py
  bucket    flat's 10,000 images in a public S3 bucket, one prefix, 1 worker
  dedupe    flat, then the same 10,000 images (other names and ids) in a second folder
            through its own link (bench/dedupe_10k.yaml): its time against the first's, and
            the objects and bytes it added to the bucket (not run by default)

WAN mode (the wan scenario, or BENCH_WAN=1 for every chosen scenario): on loopback only CPU
counts, while a real import waits on the network. The Drive emulator answers every request
(listing, downloads, rclone's index and HEADs alike) BENCH_WAN_SOURCE_MS late (default 100: its
--latency-ms), and S3 is BENCH_WAN_S3_MS of round trip away (default 20) behind
bench/latency_proxy.py, a streaming TCP proxy that delays each direction by half of it and each
new connection by one round trip. Every side (ours, both rclones, the floor) reaches S3 through
the same proxy; PostgreSQL stays local; the bench's own checks read S3 directly. rclone runs
twice, at its defaults (4 transfers, 8 checkers) and with --transfers 32, each into its own
bucket, and the ratios ours/rclone-defaults and ours/rclone-32 are printed. On loopback rclone
runs once, with --transfers 16 --checkers 16 as ours uses 16 jobs.

    make bench
    BENCH_SCENARIOS=flat,workers2 make bench
    BENCH_WORKERS=2 SOURCE_REQUESTS_PER_SECOND=100 BENCH_SCENARIOS=nested make bench
    BENCH_SCENARIOS=wan make bench
    BENCH_WAN=1 BENCH_WAN_SOURCE_MS=200 BENCH_WAN_S3_MS=40 BENCH_SCENARIOS=flat make bench

BENCH_WORKERS overrides the worker process count of every scenario but workers2 (`auto`: one per
CPU, the worker's own default); BENCH_KEEP=1 keeps the
work directory (logs of every service) and prints its path. BENCH_DERIVATIVES=false runs the
workers without making thumbnails (default true; the emulator's bytes do not decode, so with
them on each image costs a read back from S3 and a refusal: bench/derivatives.py measures real
decoding beside an import).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

import httpx
import psutil
import psycopg

from devstack.ports import free_port
from devstack.postgres import EmbeddedPostgres
from devstack.s3 import EmbeddedS3, ensure_bucket
from emulators.google_drive import DriveFixture, ExpectedFile
from emulators.public_s3 import seed_public_bucket
from migrate.__main__ import apply_migrations
from worker.processes import process_count

HERE = Path(__file__).parent
ACCESS_KEY, SECRET_KEY = "benchaccess", "benchsecret"
OURS, RCLONE, RCLONE32, FLOOR = "ours", "rclone", "rclone32", "floor"
# The bucket the bucket scenario reads, public (anonymous list and read).
PUBLIC = "public"
API_KEY = "bench-key"
TICKS = os.sysconf("SC_CLK_TCK")
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Scenario:
    name: str
    fixture: str
    root: str
    workers: int
    about: str
    reimport: bool = False
    same_as: str | None = None
    wan: bool = False  # run behind WAN delays even without BENCH_WAN=1
    default: bool = True  # run when BENCH_SCENARIOS is empty
    # Where the images are read from: "drive" (the Drive emulator) or "bucket" (a public S3
    # bucket in the same SeaweedFS).
    source: str = "drive"
    # Another folder of the fixture with the same bytes under other names (content_key): ours
    # imports it after the first, through its own link, and the bench reports its time beside
    # the first's and the objects and bytes it added to the bucket.
    second_root: str | None = None

    @property
    def from_bucket(self) -> bool:
        return self.source == "bucket"


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("flat", "flat_10k.yaml", "flat", 1, "10,000 x ~150 KB, one folder"),
        Scenario("nested", "nested_10k.yaml", "bench", 1, "10,000 x ~150 KB, nested tree"),
        Scenario("100k", "flat_100k.yaml", "many", 1, "100,000 x ~20 KB", reimport=True),
        Scenario("2gib", "one_2gib.yaml", "big", 1, "one 2 GiB image"),
        Scenario("workers2", "flat_10k.yaml", "flat", 2, "flat, 2 workers", same_as="flat"),
        Scenario(
            "wan", "flat_2k.yaml", "flat", 1, "2,000 x ~150 KB, one folder, over a WAN",
            wan=True, default=False,
        ),
        Scenario(
            "bucket", "flat_10k.yaml", "flat", 1, "10,000 x ~150 KB in a public S3 bucket",
            source="bucket",
        ),
        Scenario(
            "dedupe", "dedupe_10k.yaml", "flat", 1,
            "flat, then a copy of its 10,000 files in another folder, through a second link",
            second_root="copy", default=False,
        ),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Wan:
    """The delays of WAN mode: Drive answers every request `source_ms` late; S3 is `s3_rtt_ms`
    away (bench/latency_proxy.py); PostgreSQL stays next to the worker."""

    source_ms: float
    s3_rtt_ms: float

    @classmethod
    def of(cls, scenario: Scenario) -> Wan | None:
        if not (scenario.wan or os.environ.get("BENCH_WAN") == "1"):
            return None
        return cls(
            float(os.environ.get("BENCH_WAN_SOURCE_MS", "100")),
            float(os.environ.get("BENCH_WAN_S3_MS", "20")),
        )

    def __str__(self) -> str:
        return (
            f"WAN: Drive answers {self.source_ms:g} ms late, S3 {self.s3_rtt_ms:g} ms round trip"
            " away, PostgreSQL local"
        )


@dataclass
class Side:
    """What one side (ours, rclone or the floor) did in one scenario."""

    files: int
    bytes: int
    elapsed: float
    cpu: dict[str, float]  # CPU-seconds by process group, during this side's run
    peak_rss_mb: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    borrowed_from: str | None = None

    @property
    def files_per_second(self) -> float:
        return self.files / self.elapsed

    def cpu_per_1000(self, group: str) -> float:
        return self.cpu[group] / self.files * 1000


# --- CPU and memory from /proc -------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime+stime of `pid` and of its children it has reaped, plus its live descendants'."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        # After the command: state is field 3, so utime..cstime (fields 14-17) are [11:15].
        total = sum(int(value) for value in fields[11:15]) / TICKS
        children = psutil.Process(pid).children(recursive=True)
    except (OSError, psutil.Error):
        return 0.0
    for child in children:
        try:
            with open(f"/proc/{child.pid}/stat") as handle:
                child_fields = handle.read().rsplit(")", 1)[1].split()
            total += sum(int(value) for value in child_fields[11:13]) / TICKS
        except OSError:
            pass
    return total


def machine_busy_seconds() -> float:
    """CPU-seconds every CPU of the machine has spent busy since boot (/proc/stat), so that
    whatever else runs on a shared machine during a side's run shows in the output."""
    with open("/proc/stat") as handle:
        values = [int(value) for value in handle.readline().split()[1:]]
    idle, iowait = values[3], values[4]
    # guest time is already counted in user time.
    return (sum(values[:8]) - idle - iowait) / TICKS


def rss_mb(pid: int) -> float:
    try:
        return float(psutil.Process(pid).memory_info().rss) / 1e6
    except psutil.Error:
        return 0.0


# --- the stack ---------------------------------------------------------------------------


class Stack:
    """Embedded PostgreSQL and SeaweedFS, the Drive emulator, and (while ours runs) the API and
    workers, all under one work directory, for one scenario."""

    def __init__(
        self, work: Path, scenario: Scenario, fixture: DriveFixture, wan: Wan | None
    ) -> None:
        self.work = work
        self.scenario = scenario
        self.fixture = fixture
        self.wan = wan
        self.postgres = EmbeddedPostgres(work / "postgres", free_port(), fsync=True)
        self.s3 = EmbeddedS3(
            work / "s3", free_port(), ACCESS_KEY, SECRET_KEY, OURS,
            volume_size_limit_mb=1024, max_volumes=200,
        )  # fmt: skip
        self.drive_port = free_port()
        self.api_port = free_port()
        self.log: IO[bytes] = (work / "services.log").open("ab")
        self.emulator: subprocess.Popen[bytes] | None = None
        self.proxy: subprocess.Popen[bytes] | None = None
        self.proxy_port = free_port()
        self.database_url = ""

    def start(self) -> None:
        self.postgres.start()
        self.s3.start()
        client = self.s3.client()
        for bucket in (RCLONE, RCLONE32, FLOOR):
            ensure_bucket(client, bucket)
        self.database_url = self.postgres.create_database("bench")
        apply_migrations(self.database_url)
        if self.scenario.from_bucket:
            started = time.monotonic()
            seed_public_bucket(client, PUBLIC, self.fixture)
            print(f"  public bucket filled in {time.monotonic() - started:.0f} s", flush=True)
        else:
            self.start_emulator()
        if self.wan is not None:
            # Everyone's S3 traffic goes through it; the bench's own checks go straight to S3.
            self.proxy = self.spawn(
                str(HERE / "latency_proxy.py"),
                "--listen", f"127.0.0.1:{self.proxy_port}",
                "--target", f"127.0.0.1:{self.s3.port}",
                "--rtt-ms", str(self.wan.s3_rtt_ms),
            )  # fmt: skip
            wait_until_up(f"{self.s3_url}/", any_status=True)

    def start_emulator(self) -> None:
        fixture_path = HERE / self.scenario.fixture
        self.emulator = self.spawn(
            "-m", "emulators.google_drive", "--port", str(self.drive_port),
            "--fixture", str(fixture_path), "--log-level", "warning",
            "--latency-ms", str(self.wan.source_ms if self.wan else 0),
        )  # fmt: skip
        wait_until_up(f"{self.drive_url}/_emulator/health")

    def stop(self) -> None:
        for process in (self.proxy, self.emulator):
            if process is not None:
                stop_process(process)
        self.s3.stop()
        self.postgres.stop()
        self.log.close()

    @property
    def drive_url(self) -> str:
        return f"http://127.0.0.1:{self.drive_port}"

    @property
    def s3_url(self) -> str:
        """Where the sides reach S3: through the latency proxy in WAN mode."""
        return f"http://127.0.0.1:{self.proxy_port}" if self.wan else self.s3.endpoint_url

    @property
    def folder_id(self) -> str:
        return str(self.fixture.folder_id(self.scenario.root))

    @property
    def link(self) -> str:
        """The link ours imports (and the floor reads)."""
        if self.scenario.from_bucket:
            return f"s3+{self.s3_url}/{PUBLIC}/{self.scenario.root}/"
        return self.fixture.link(self.scenario.root)

    def ours_id(self, identity: str) -> str:
        """An image's `source_file_id` in ours, from its identity (its Drive id, or its path
        below the bucket scenario's root)."""
        if not self.scenario.from_bucket:
            return identity
        return f"{self.bucket_base}{identity}"

    @property
    def bucket_base(self) -> str:
        """The bucket scenario's file ids start with this, then the path below the root."""
        return f"{self.s3_url.split('://', 1)[1]}/{PUBLIC}/{self.scenario.root}/"

    def identity_of_key(self, key: str) -> str:
        """The identity of an image from the key a side stored it under: the last part of the
        key (Drive ids, which the emulator's index names files by), or in the bucket scenario
        the path below the root (rclone keeps it; ours and the floor's file ids end with it)."""
        if not self.scenario.from_bucket:
            return key.rsplit("/", 1)[-1]
        if key.startswith("public_s3/"):
            return unquote(key.removeprefix("public_s3/")).removeprefix(self.bucket_base)
        return key

    def env(self, bucket: str) -> dict[str, str]:
        # No sign-in at the API for the bench.
        inherited = {
            k: v for k, v in os.environ.items() if k not in ("API_TOKEN", "API_READ_TOKEN")
        }
        return {
            **inherited,
            "DATABASE_URL": self.database_url,
            "S3_ENDPOINT_URL": self.s3_url,
            "S3_BUCKET": bucket,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "GOOGLE_API_KEY": API_KEY,
            "GOOGLE_DRIVE_API_URL": self.drive_url,
            # The bucket scenario's public bucket is on loopback, which the policy refuses.
            "PUBLIC_S3_ALLOWED_NETWORKS": "127.0.0.0/8",
            "SOURCE_REQUESTS_PER_SECOND": os.environ.get("SOURCE_REQUESTS_PER_SECOND", "100000"),
            "WORKER_CONCURRENCY": os.environ.get("WORKER_CONCURRENCY", "16"),
            # The 100,000-file scenario is exactly at the default cap; lift it, nothing else.
            "MAX_FILES_PER_IMPORT": "0",
            "START_RATE_LIMIT_PER_MINUTE": "0",
            # Metrics are not what is measured (and a fixed port could clash).
            "METRICS_PORT": "0",
            # BENCH_DERIVATIVES=false: the workers make no thumbnails (they are still queued).
            "DERIVATIVES_ENABLED": os.environ.get("BENCH_DERIVATIVES", "true"),
        }

    def spawn(self, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, *argv],
            env=env or dict(os.environ),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def server_pids(self) -> dict[str, int]:
        """The long-lived processes whose CPU is read around each side's run."""
        postmaster = int((self.postgres.data_dir / "postmaster.pid").read_text().split()[0])
        weed = int((self.s3.data_dir / "weed.pid").read_text())
        pids = {"postgres": postmaster, "s3": weed}
        if self.emulator is not None:
            pids["emulator"] = self.emulator.pid
        if self.proxy is not None:
            pids["s3 proxy"] = self.proxy.pid
        return pids

    def cpu(self, pids: dict[str, list[int]]) -> dict[str, float]:
        by_group = {
            group: sum(cpu_seconds(pid) for pid in members) for group, members in pids.items()
        }
        by_group["machine"] = machine_busy_seconds()
        return by_group

    def warm_emulator(self) -> None:
        """List the whole tree through the Drive API once, asking for MD5s, so the emulator
        computes (and caches) every checksum before any side is measured."""
        with httpx.Client(base_url=self.drive_url, timeout=600) as drive:
            folders = [self.folder_id]
            while folders:
                folder = folders.pop()
                token = ""
                while True:
                    params = {
                        "q": f"'{folder}' in parents",
                        "fields": "nextPageToken,files(id,mimeType,md5Checksum,sha256Checksum)",
                        "pageSize": "1000",
                        "key": API_KEY,
                        "pageToken": token,
                    }
                    body = drive.get("/drive/v3/files", params=params).raise_for_status().json()
                    folders += [f["id"] for f in body["files"] if f["mimeType"].endswith(".folder")]
                    token = body.get("nextPageToken", "")
                    if not token:
                        break


def wait_until_up(url: str, any_status: bool = False) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=5).status_code == 200 or any_status:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_to_exit(argv: list[str], env: dict[str, str], log: IO[bytes]) -> tuple[str, float, float]:
    """Run a program to its end: (stdout, CPU-seconds of it and its children, peak RSS in MB),
    the CPU and memory from wait4(), so nothing is missed however short it runs."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        out = process.stdout.read().decode()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        messages = errors.read()
    log.write(messages)
    if process.returncode != 0:
        tail = messages.decode(errors="replace")[-3000:]
        raise RuntimeError(f"{argv[0]} exited with {process.returncode}:\n{tail}")
    return out, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1000


# --- the three sides -------------------------------------------------------------------------


def run_ours(stack: Stack, workers: int, expected: dict[str, ExpectedFile]) -> list[Side]:
    """The import (and, when the scenario says so, a re-import of the unchanged folder)."""
    env = stack.env(OURS)
    api = stack.spawn(
        "-m", "uvicorn", "api.app:app", "--port", str(stack.api_port), "--log-level", "warning",
        env=env,
    )  # fmt: skip
    worker = stack.spawn("-m", "worker", env={**env, "WORKER_PROCESSES": str(workers)})
    try:
        wait_until_up(f"http://127.0.0.1:{stack.api_port}/healthz")
        time.sleep(2)  # the workers connect and start polling
        listed_files = sum(1 for item in stack.fixture.walk(stack.folder_id) if not item.is_folder)
        sides = [import_once(stack, api.pid, worker, listed_files)]
        verify_ours(stack, expected)
        if stack.scenario.reimport:
            sides.append(import_once(stack, api.pid, worker, listed_files))
            verify_ours(stack, expected)
        if stack.scenario.second_root:
            sides.append(import_second_link(stack, api.pid, worker, sides[0]))
        return sides
    finally:
        for process in [worker, api]:
            stop_process(process)


def import_second_link(
    stack: Stack, api_pid: int, worker: subprocess.Popen[bytes], first: Side
) -> Side:
    """The second folder's import (the same bytes as the first's, other names and ids): its
    time against the first's, and what it added to the bucket (nothing, when stored once)."""
    root = stack.scenario.second_root
    assert root is not None
    before = bucket_totals(stack)
    second_files = sum(
        1 for item in stack.fixture.walk(stack.fixture.folder_id(root)) if not item.is_folder
    )
    side = import_once(stack, api_pid, worker, second_files, link=stack.fixture.link(root))
    after = bucket_totals(stack)
    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM contents),"
            " (SELECT sum(bytes_saved) FROM imports)"
        ).fetchone()
    assert row is not None
    print(
        f"  second link: {side.files} files in {side.elapsed:.1f} s"
        f" = {side.elapsed / first.elapsed:.2f} x the first import's {first.elapsed:.1f} s;"
        f" bucket objects {before[0]} -> {after[0]}, bytes {before[1]:,} -> {after[1]:,}"
        f" (+{after[1] - before[1]:,}); images {row[0]}, contents {row[1]},"
        f" bytes saved {row[2]:,};"
        f" CPU per 1,000 files: first {first.cpu_per_1000('workers'):.2f} s,"
        f" second {side.cpu_per_1000('workers'):.2f} s",
        flush=True,
    )
    side.extra["objects_added"] = after[0] - before[0]
    side.extra["bytes_added"] = after[1] - before[1]
    return side


def bucket_totals(stack: Stack) -> tuple[int, int]:
    """Objects and bytes in ours' bucket."""
    client = stack.s3.client()
    objects = size = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=OURS):
        for obj in page.get("Contents", []):
            objects += 1
            size += obj["Size"]
    return objects, size


def worker_processes(worker: subprocess.Popen[bytes]) -> list[int]:
    """The pids that move files: the worker itself, or its children when it supervises them."""
    try:
        children = psutil.Process(worker.pid).children()
    except psutil.Error:
        children = []
    return [child.pid for child in children] or [worker.pid]


def import_once(
    stack: Stack,
    api_pid: int,
    worker: subprocess.Popen[bytes],
    listed_files: int,
    link: str | None = None,
) -> Side:
    servers = stack.server_pids()
    # The worker's CPU is its own and its live descendants' (cpu_seconds): a supervisor's
    # children are counted in it.
    pids = {
        "workers": [worker.pid],
        "api": [api_pid],
        **{name: [pid] for name, pid in servers.items()},
    }
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_reset()")
    processes = worker_processes(worker)
    peak = [0.0] * len(processes)
    before = stack.cpu(pids)
    started = time.monotonic()
    discovered_after: float | None = None
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=60) as api:
        response = api.post("/imports", json={"url": link or stack.link})
        response.raise_for_status()
        import_id = response.json()["import_id"]
        while True:
            body = api.get(f"/imports/{import_id}").raise_for_status().json()
            for i, pid in enumerate(processes):
                peak[i] = max(peak[i], rss_mb(pid))
            if discovered_after is None and body["counts"]["discovered"] >= listed_files:
                discovered_after = time.monotonic() - started
            if body["status"] in {"completed", "completed_with_errors", "failed", "cancelled"}:
                break
            time.sleep(POLL_SECONDS)
    wall = time.monotonic() - started
    after = stack.cpu(pids)
    # Backends flush their statistics when idle, at most once a second.
    time.sleep(1.5)
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback, tup_inserted + tup_updated + tup_deleted"
            " FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    counts = body["counts"]
    assert body["status"] == "completed", f"import ended {body['status']}: {body.get('error')}"
    assert counts["failed"] == 0, counts
    # The server's own timestamps: not rounded to the polling interval.
    elapsed = (parse_time(body["finished_at"]) - parse_time(body["created_at"])) or wall
    files = counts["imported"] + counts["unchanged"]
    print(
        f"  ours: import {import_id} {body['status']} in {elapsed:.1f} s,"
        f" counts={json.dumps(counts)}",
        flush=True,
    )
    return Side(
        files=files,
        bytes=int(body["bytes_imported"]),
        elapsed=elapsed,
        cpu={group: after[group] - before[group] for group in after},
        peak_rss_mb=peak,
        extra={
            "imported": counts["imported"],
            "unchanged": counts["unchanged"],
            "discovered_after": discovered_after,
            "transactions": row[0],
            "tuples_written": row[1],
        },
    )


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def rclone_argv(stack: Stack, bucket: str, flags: list[str]) -> list[str]:
    if stack.scenario.from_bucket:
        # The source: anonymous (no keys, no env auth); the destination's keys in its
        # connection string, which overrides the flags for it alone.
        destination = f":s3,access_key_id={ACCESS_KEY},secret_access_key={SECRET_KEY}:{bucket}"
        return [
            shutil.which("rclone") or "rclone",
            "copy", f":s3:{PUBLIC}/{stack.scenario.root}", destination,
            "--s3-provider", "Other",
            "--s3-env-auth=false",
            "--s3-endpoint", stack.s3_url,
            "--s3-region", "us-east-1",
            "--s3-force-path-style=true",
            *flags,
            "--stats-one-line", "--stats", "0",
            "--log-level", "NOTICE",
        ]  # fmt: skip
    return [
        shutil.which("rclone") or "rclone",
        "copy", ":http:", f":s3:{bucket}",
        "--http-url", f"{stack.drive_url}/_emulator/index/{stack.folder_id}/",
        "--s3-provider", "Other",
        "--s3-env-auth=false",
        "--s3-access-key-id", ACCESS_KEY,
        "--s3-secret-access-key", SECRET_KEY,
        "--s3-endpoint", stack.s3_url,
        "--s3-region", "us-east-1",
        "--s3-force-path-style=true",
        *flags,
        "--stats-one-line", "--stats", "0",
        "--log-level", "NOTICE",
    ]  # fmt: skip


def run_external(stack: Stack, argv: list[str], env: dict[str, str], files: int) -> Side:
    """rclone or the floor: its own CPU from wait4(), the servers' from /proc around it."""
    pids = {name: [pid] for name, pid in stack.server_pids().items()}
    before = stack.cpu(pids)
    started = time.monotonic()
    out, own_cpu, peak_rss = run_to_exit(argv, env, stack.log)
    elapsed = time.monotonic() - started
    after = stack.cpu(pids)
    cpu = {group: after[group] - before[group] for group in after}
    cpu["self"] = own_cpu
    return Side(files, 0, elapsed, cpu, [peak_rss], {"stdout": out})


# On loopback rclone copies 16 at a time, as ours does; over a WAN at its defaults (4 transfers,
# 8 checkers) and with 32 transfers.
LOOPBACK_RCLONE = ["--transfers", "16", "--checkers", "16"]
RCLONE32_FLAGS = ["--transfers", "32"]


def run_rclone(
    stack: Stack,
    expected: dict[str, ExpectedFile],
    again: bool = False,
    bucket: str = RCLONE,
    flags: list[str] | None = None,
) -> Side:
    # No config file: every setting is a flag. rclone's AWS SDK refuses a CA bundle from
    # AWS_CA_BUNDLE with its own transport, and the endpoint is plain HTTP anyway.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
    env["RCLONE_CONFIG"] = "/dev/null"
    if flags is None:
        flags = [] if stack.wan else LOOPBACK_RCLONE
    side = run_external(stack, rclone_argv(stack, bucket, flags), env, len(expected))
    side.bytes = sum(image.size for image in expected.values())
    if not again:
        verify_bucket(stack, bucket, expected)
    how = " ".join(flags) or "defaults"
    print(f"  rclone ({how}): {'re-copy' if again else 'copy'} in {side.elapsed:.1f} s", flush=True)
    return side


def run_floor(stack: Stack, expected: dict[str, ExpectedFile]) -> Side:
    folder = stack.link if stack.scenario.from_bucket else stack.folder_id
    argv = [sys.executable, str(HERE / "bare_transfer.py"), folder]
    side = run_external(stack, argv, stack.env(FLOOR), len(expected))
    result = json.loads(side.extra.pop("stdout").strip().splitlines()[-1])
    assert not result["failures"], result["failures"][:5]
    assert result["files"] == len(expected), result
    side.bytes = result["bytes"]
    side.elapsed = result["elapsed"]  # the program's own clock: without interpreter start-up
    side.extra["discovered_after"] = result["listed_after"]
    verify_bucket(stack, FLOOR, expected)
    print(f"  floor: {side.files} files in {side.elapsed:.1f} s", flush=True)
    return side


# --- verification ----------------------------------------------------------------------------


def verify_ours(stack: Stack, expected: dict[str, ExpectedFile]) -> None:
    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute(
            "SELECT source_file_id, md5_checksum, size, storage_key FROM images"
        ).fetchall()
    assert len(rows) == len(expected), f"{len(rows)} image rows, expected {len(expected)}"
    by_id = {row[0]: row for row in rows}
    ids = {identity: stack.ours_id(identity) for identity in expected}
    assert set(by_id) == set(ids.values()), "not the fixture's images"
    for identity, image in expected.items():
        file_id = ids[identity]
        _, md5, size, key = by_id[file_id]
        # Stored under their content's key (their SHA-256), once each.
        assert (md5, size, key) == (image.md5, image.size, f"content/{image.sha256}"), file_id
    verify_bucket(
        stack,
        OURS,
        expected,
        by_key={f"content/{image.sha256}": identity for identity, image in expected.items()},
    )


def verify_bucket(
    stack: Stack,
    bucket: str,
    expected: dict[str, ExpectedFile],
    by_key: dict[str, str] | None = None,
) -> None:
    """Exactly one object per image, named by its id (the last part of the key) or, in ours,
    by its content (`by_key`), with the fixture's size and MD5: the ETag of a single-part
    upload, the bytes' own of a multipart one."""
    client = stack.s3.client()
    objects: dict[str, dict[str, Any]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            file_id = by_key[obj["Key"]] if by_key else stack.identity_of_key(obj["Key"])
            assert file_id not in objects, f"{bucket}: two objects for {file_id}"
            objects[file_id] = obj
    assert len(objects) == len(expected), (
        f"{bucket}: {len(objects)} objects, {len(expected)} images"
    )
    assert set(objects) == set(expected), f"{bucket}: objects are not the fixture's images"
    hashed = 0
    for file_id, obj in objects.items():
        image = expected[file_id]
        assert obj["Size"] == image.size, f"{bucket}/{obj['Key']}: size {obj['Size']}"
        etag = obj["ETag"].strip('"')
        if "-" in etag:
            digest = hashlib.md5(usedforsecurity=False)
            body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"]
            for chunk in body.iter_chunks(8 * 1024 * 1024):
                digest.update(chunk)
            etag = digest.hexdigest()
            hashed += 1
        assert etag == image.md5, f"{bucket}/{obj['Key']}: MD5 {etag}, expected {image.md5}"
    how = f" ({hashed} multipart, read back and hashed)" if hashed else ""
    print(f"  verified {bucket}: {len(objects)} objects, sizes and MD5s match{how}", flush=True)


# --- one scenario ------------------------------------------------------------------------------


@dataclass
class Result:
    scenario: Scenario
    workers: int
    images: int
    total_bytes: int
    ours: Side
    rclone: Side
    floor: Side
    reimport: Side | None = None
    recopy: Side | None = None
    rclone32: Side | None = None  # WAN mode: rclone --transfers 32
    wan: Wan | None = None


def run_scenario(scenario: Scenario, done: dict[str, Result], keep: bool) -> Result:
    workers = scenario.workers
    if scenario.same_as is None and "BENCH_WORKERS" in os.environ:
        chosen = os.environ["BENCH_WORKERS"]
        workers = process_count("auto" if chosen == "auto" else int(chosen))
    fixture = DriveFixture.from_yaml(HERE / scenario.fixture)
    expected = {
        image.path if scenario.from_bucket else image.id: image
        for image in fixture.expected_images(scenario.root)
    }
    total = sum(image.size for image in expected.values())
    wan = Wan.of(scenario)
    print(
        f"\n== {scenario.name}: {scenario.about}: {len(expected):,} images, {total / 1e6:,.0f} MB;"
        f" ours with {workers} worker(s),"
        f" derivatives {os.environ.get('BENCH_DERIVATIVES', 'true')} ==",
        flush=True,
    )
    if wan is not None:
        print(f"  {wan}", flush=True)
    for image in expected.values():
        image.md5  # noqa: B018 - computed now, not while a side is measured
        image.sha256  # noqa: B018
    with work_dir(scenario.name, keep) as work:
        stack = Stack(work, scenario, fixture, wan)
        try:
            stack.start()
            if not scenario.from_bucket:
                stack.warm_emulator()
            sides = run_ours(stack, workers, expected)
            borrowed = done.get(scenario.same_as or "")
            rclone32 = None
            if borrowed is not None and borrowed.wan == wan:
                rclone, floor = borrowed.rclone, borrowed.floor
                rclone.borrowed_from = floor.borrowed_from = borrowed.scenario.name
                rclone32 = borrowed.rclone32
            else:
                rclone = run_rclone(stack, expected)
                if wan is not None:
                    rclone32 = run_rclone(stack, expected, bucket=RCLONE32, flags=RCLONE32_FLAGS)
                floor = run_floor(stack, expected)
            recopy = run_rclone(stack, expected, again=True) if scenario.reimport else None
        finally:
            stack.stop()
    reimport = sides[1] if scenario.reimport and len(sides) > 1 else None
    return Result(
        scenario, workers, len(expected), total, sides[0], rclone, floor, reimport, recopy,
        rclone32, wan,
    )  # fmt: skip


@contextmanager
def work_dir(name: str, keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    try:
        yield path
    finally:
        if keep:
            print(f"  work directory kept: {path}", flush=True)
        else:
            shutil.rmtree(path, ignore_errors=True)


# --- output ----------------------------------------------------------------------------------


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def f1(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" if value >= 10 or value == 0 else f"{value:,.3f}"


def f2(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def print_scenario(result: Result) -> None:
    ours, rclone, floor = result.ours, result.rclone, result.floor

    # Per 1,000 files, or per file when a scenario has fewer (the 2 GiB one).
    unit, label = (1000, "per 1,000 files") if result.images >= 100 else (1, "per file")

    def per1k(side: Side, group: str) -> str:
        return f2(side.cpu[group] / side.files * unit) if group in side.cpu else "-"

    def rest(side: Side) -> float:
        """Busy CPU not in the rows above: this harness, and other work on a shared machine."""
        return side.cpu["machine"] - sum(v for k, v in side.cpu.items() if k != "machine")

    def borrowed(side: Side) -> str:
        return f" (from {side.borrowed_from})" if side.borrowed_from else ""

    sides = (ours, rclone, floor)
    both = (ours.cpu["workers"] + ours.cpu["postgres"]) / ours.files * unit
    own = [per1k(ours, "workers"), per1k(rclone, "self"), per1k(floor, "self")]
    rss = [" / ".join(f"{r:.0f}" for r in side.peak_rss_mb) for side in sides]
    discovered = [ours.extra["discovered_after"], None, floor.extra.get("discovered_after")]
    rows = [
        ["", "ours", "rclone" + borrowed(rclone), "floor" + borrowed(floor)],
        ["elapsed, s", *(f1(side.elapsed) for side in sides)],
        ["files/s", *(f1(side.files_per_second) for side in sides)],
        ["MB/s", *(f1(side.bytes / 1e6 / side.elapsed) for side in sides)],
        [f"CPU s {label}:", "", "", ""],
        ["  the transfer process(es)", *own],
        ["  PostgreSQL (all processes)", per1k(ours, "postgres"), "-", "-"],
        ["  workers + PostgreSQL", f2(both), "-", "-"],
        ["  API", per1k(ours, "api"), "-", "-"],
        ["  Drive emulator", *(per1k(side, "emulator") for side in sides)],
        ["  S3 (SeaweedFS)", *(per1k(side, "s3") for side in sides)],
        *([["  S3 latency proxy", *(per1k(side, "s3 proxy") for side in sides)]]
          if result.wan else []),
        ["  rest of the machine", *(f2(rest(side) / side.files * unit) for side in sides)],
        ["peak RSS, MB (per process)", *rss],
        ["all files discovered after, s", *(f1(value) for value in discovered)],
    ]  # fmt: skip
    print()
    if result.wan is not None:
        print(f"{result.wan}; rclone at its defaults (4 transfers, 8 checkers)")
    print(table(rows))
    print(
        f"ours/rclone files/s: {ours.files_per_second / rclone.files_per_second:.2f}   "
        f"ours/floor files/s: {ours.files_per_second / floor.files_per_second:.2f}"
    )
    if result.rclone32 is not None:
        r32 = result.rclone32
        print(
            f"rclone --transfers 32: {r32.elapsed:.1f} s, {r32.files_per_second:.1f} files/s,"
            f" {r32.cpu_per_1000('self'):.2f} CPU-s per 1,000 files;"
            f" ours/rclone-defaults files/s: {ours.files_per_second / rclone.files_per_second:.2f}"
            f"   ours/rclone-32 files/s: {ours.files_per_second / r32.files_per_second:.2f}"
        )
    print(
        f"PostgreSQL transactions per imported file: {ours.extra['transactions'] / ours.files:.1f}"
        f" ({ours.extra['transactions']:,} in all; rows written per file:"
        f" {ours.extra['tuples_written'] / ours.files:.1f}). pg_stat_statements is not available"
        " in the embedded PostgreSQL, so these are pg_stat_database's xact_commit + xact_rollback"
        " (every statement of the worker, API polling included, runs in some transaction)."
    )
    if result.reimport is not None:
        again = result.reimport
        print(
            f"re-import of the unchanged folder: {again.elapsed:.1f} s,"
            f" {again.extra['unchanged']:,} unchanged, {again.extra['imported']:,} imported,"
            " workers + PostgreSQL"
            f" {(again.cpu['workers'] + again.cpu['postgres']):.1f} CPU s,"
            f" {again.extra['transactions'] / again.files:.1f} transactions per file"
        )
    if result.recopy is not None:
        print(
            f"rclone re-copy of the unchanged folder: {result.recopy.elapsed:.1f} s,"
            f" rclone {result.recopy.cpu['self']:.1f} CPU s"
        )


def print_summary(results: list[Result]) -> None:
    rows = [
        ["scenario", "workers", "ours f/s", "rclone f/s", "floor f/s", "ours/rclone",
         "ours/floor", "CPU/1k ours", "rclone", "floor", "S3 CPU/1k ours", "rclone",
         "ours/rclone-32"],
    ]  # fmt: skip
    for r in results:
        ours, rclone, floor = r.ours, r.rclone, r.floor
        rows.append(
            [
                r.scenario.name,
                str(r.workers),
                f1(ours.files_per_second),
                f1(rclone.files_per_second),
                f1(floor.files_per_second),
                f2(ours.files_per_second / rclone.files_per_second),
                f2(ours.files_per_second / floor.files_per_second),
                f2((ours.cpu["workers"] + ours.cpu["postgres"]) / ours.files * 1000),
                f2(rclone.cpu_per_1000("self")),
                f2(floor.cpu_per_1000("self")),
                f2(ours.cpu_per_1000("s3")),
                f2(rclone.cpu_per_1000("s3")),
                f2(ours.files_per_second / r.rclone32.files_per_second) if r.rclone32 else "-",
            ]
        )
    print(
        "\n== summary (files/s; CPU-seconds per 1,000 files: ours = workers + PostgreSQL;"
        " over a WAN, rclone is at its defaults and ours/rclone-32 is against --transfers 32) =="
    )
    print(table(rows))
    by_name = {r.scenario.name: r for r in results}
    if "flat" in by_name and "workers2" in by_name:
        one, two = by_name["flat"].ours, by_name["workers2"].ours
        print(
            f"2 workers / 1 worker on flat: {two.files_per_second / one.files_per_second:.2f}x "
            "files/s"
        )


def main() -> None:
    # bench/source_limits.py (the quota and fairness scenarios) imports this module: let it
    # find this very copy rather than load a second one.
    sys.modules.setdefault("transfer_vs_rclone", sys.modules[__name__])
    import source_limits

    names = [n.strip() for n in os.environ.get("BENCH_SCENARIOS", "").split(",") if n.strip()]
    known = [*SCENARIOS, *source_limits.SCENARIOS]
    unknown = set(names) - set(known)
    if unknown:
        sys.exit(f"unknown BENCH_SCENARIOS {sorted(unknown)}; choose from {', '.join(known)}")
    chosen = [s for n, s in SCENARIOS.items() if n in names or (not names and s.default)]
    keep = os.environ.get("BENCH_KEEP") == "1"
    for name, run in source_limits.SCENARIOS.items():
        if name in names:
            run(keep)
    if not chosen:
        return
    if shutil.which("rclone") is None:
        sys.exit(
            "rclone is not installed: `make bench` installs Debian's, or apt-get install rclone"
        )
    version = subprocess.run(["rclone", "version"], capture_output=True, text=True).stdout
    print(
        f"bench: {', '.join(s.name for s in chosen)}; {version.splitlines()[0]};"
        f" {os.cpu_count()} CPUs; pace {os.environ.get('SOURCE_REQUESTS_PER_SECOND', '100000')}"
        " req/s",
        flush=True,
    )
    done: dict[str, Result] = {}
    for scenario in chosen:
        result = run_scenario(scenario, done, keep)
        done[scenario.name] = result
        print_scenario(result)
    print_summary(list(done.values()))


if __name__ == "__main__":
    main()
