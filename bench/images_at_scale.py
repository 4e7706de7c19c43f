"""Benchmark: GET /images over a million rows: throughput and tail latency of one API process,
then each filter, first page and deep pages.

Fills a throwaway PostgreSQL with 1,000,000 image rows in one INSERT ... SELECT and runs one API
process under uvicorn. Then a load generator in this process (raw HTTP/1.1 on keep-alive
connections, so that it costs little next to the API) sends `GET /images?limit=50` from 32
concurrent clients for requests/s, and from 8 for p50/p99 latency. The load generator shares the
machine with the API and PostgreSQL, so its own CPU is printed beside theirs, as CPU-ms per
request. Last, the median and worst latency of each query shape, one request at a time.

    uv run python bench/images_at_scale.py     (BENCH_SECONDS=10: length of each load phase)
"""

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import psycopg
import uvloop

from devstack.ports import free_port
from devstack.postgres import EmbeddedPostgres
from migrate.__main__ import apply_migrations

ROWS = 1_000_000
REPEATS = 20
LOAD_SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
WARMUP_SECONDS = 2.0

_FILL = """
WITH batch AS (
    INSERT INTO imports (source, source_url, folder_id, locator, status)
    VALUES ('google_drive', 'https://drive.google.com/drive/folders/bench', 'bench',
            '{"folder_id": "bench"}', 'completed')
    RETURNING id
)
INSERT INTO images (source, source_file_id, import_id, name, mime_type, size, checksums,
                    storage_key, storage_path, created_at)
SELECT CASE WHEN n %% 4 = 0 THEN 'dropbox' ELSE 'google_drive' END,
       'f' || n, batch.id,
       'IMG_' || lpad(n::text, 7, '0') || CASE WHEN n %% 10 = 0 THEN '_beach' ELSE '' END || '.jpg',
       (ARRAY['image/jpeg', 'image/png', 'image/gif', 'image/webp'])[1 + n %% 4],
       1000 + (n::bigint * 7919) %% 5000000, jsonb_build_object('md5', md5(n::text)),
       'k/' || n, 's3://images/k/' || n,
       now() - make_interval(secs => n)
FROM batch, generate_series(1, %s) AS n
"""

QUERIES = {
    "newest first, first page": {},
    "source=dropbox": {"source": "dropbox"},
    "mime_type=image/png": {"mime_type": "image/png"},
    "q=beach (name contains)": {"q": "beach"},
    "q=0000042 (rare name)": {"q": "0000042"},
    "min_size=4900000 (rare)": {"min_size": 4_900_000},
    "size 1-2 MB and png": {"min_size": 1_000_000, "max_size": 2_000_000, "mime_type": "image/png"},
}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "postgres", free_port())
        api = None
        try:
            postgres.start()
            url = postgres.create_database("bench")
            apply_migrations(url)
            started = time.monotonic()
            with psycopg.connect(url) as conn:
                conn.execute(_FILL, (ROWS,))
                conn.execute("ANALYZE images")
            print(f"bench: {ROWS} rows inserted in {time.monotonic() - started:.1f} s", flush=True)
            port = free_port()
            env = {
                "DATABASE_URL": url,
                "S3_ENDPOINT_URL": "http://127.0.0.1:9",
                "AWS_ACCESS_KEY_ID": "x",
                "AWS_SECRET_ACCESS_KEY": "x",
                "PATH": "",
            }
            api = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "api.app:app",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env=env,
            )
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
            wait_until_up(client)
            processes = {"api": psutil.Process(api.pid), "postgres": postmaster(postgres.data_dir)}
            uvloop.run(load("127.0.0.1", port, "/images?limit=50", processes))
            print(
                f"\n{'query (limit 50)':34} {'page 1 median':>14} {'page 20 median':>15} "
                f"{'worst':>8}"
            )
            for name, params in QUERIES.items():
                first, deep = measure(client, params)
                worst = max(first + deep)
                print(
                    f"{name:34} {ms(statistics.median(first)):>14} "
                    f"{ms(statistics.median(deep)) if deep else '(fewer pages)':>15} {ms(worst):>8}"
                )
        finally:
            if api is not None:
                api.terminate()
                api.wait()
            postgres.stop()


def measure(client: httpx.Client, params: dict[str, object]) -> tuple[list[float], list[float]]:
    """Latency of the first page, and of the 20th page reached by following the cursor."""
    first: list[float] = []
    deep: list[float] = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        page = client.get("/images", params={**params, "limit": 50}).raise_for_status().json()
        first.append(time.perf_counter() - started)
    for _ in range(19):
        if not page["next_cursor"]:
            return first, []
        page = client.get(
            "/images", params={**params, "limit": 50, "cursor": page["next_cursor"]}
        ).json()
    cursor = page["next_cursor"]
    if cursor:
        for _ in range(REPEATS):
            started = time.perf_counter()
            client.get("/images", params={**params, "limit": 50, "cursor": cursor})
            deep.append(time.perf_counter() - started)
    return first, deep


@dataclass
class Phase:
    clients: int
    seconds: float
    latencies: list[float]
    errors: int
    cpu_seconds: dict[str, float]

    @property
    def requests(self) -> int:
        return len(self.latencies)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def cpu_ms_per_request(self, name: str) -> float:
        return self.cpu_seconds[name] * 1000 / max(1, self.requests)


async def load(host: str, port: int, target: str, processes: dict[str, psutil.Process]) -> None:
    """Requests/s from 32 concurrent clients, then p50/p99 from 8, with everyone's CPU."""
    request = f"GET {target} HTTP/1.1\r\nhost: {host}:{port}\r\n\r\n".encode()
    await run_phase(host, port, request, 32, WARMUP_SECONDS, processes)
    print(
        f"\nGET {target}, {LOAD_SECONDS:.0f} s per phase; CPU-ms per request in each process "
        f"(load generator: this one)"
    )
    print(
        f"{'clients':>7} {'requests/s':>11} {'p50':>9} {'p99':>9} {'errors':>7} "
        f"{'api CPU':>8} {'postgres CPU':>13} {'load gen CPU':>13} {'load gen % core':>16}"
    )
    for clients in (32, 8):
        phase = await run_phase(host, port, request, clients, LOAD_SECONDS, processes)
        print(
            f"{clients:>7} {phase.requests / phase.seconds:>11.1f} {ms(phase.percentile(0.5)):>9} "
            f"{ms(phase.percentile(0.99)):>9} {phase.errors:>7} "
            f"{phase.cpu_ms_per_request('api'):>8.2f} "
            f"{phase.cpu_ms_per_request('postgres'):>13.2f} "
            f"{phase.cpu_ms_per_request('load generator'):>13.2f} "
            f"{100 * phase.cpu_seconds['load generator'] / phase.seconds:>15.0f}%",
            flush=True,
        )


async def run_phase(
    host: str,
    port: int,
    request: bytes,
    clients: int,
    seconds: float,
    processes: dict[str, psutil.Process],
) -> Phase:
    latencies: list[float] = []
    errors = [0]
    cpu_before = cpu_seconds(processes)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(client_loop(host, port, request, deadline, latencies, errors) for _ in range(clients))
    )
    elapsed = time.perf_counter() - started
    cpu_after = cpu_seconds(processes)
    # A backend that started during the phase counts whole.
    used = {
        name: sum(seconds - cpu_before[name].get(pid, 0.0) for pid, seconds in by_pid.items())
        for name, by_pid in cpu_after.items()
    }
    return Phase(clients, elapsed, latencies, errors[0], used)


async def client_loop(
    host: str,
    port: int,
    request: bytes,
    deadline: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    """One keep-alive connection sending the request again as soon as each answer is read."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (sent := time.perf_counter()) < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(content_length(head))
            latencies.append(time.perf_counter() - sent)
            if not head.startswith(b"HTTP/1.1 200 "):
                errors[0] += 1
    finally:
        writer.close()


def content_length(head: bytes) -> int:
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line.partition(b":")[2])
    raise RuntimeError(f"no content-length in {head!r}")


def cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each process and its children (PostgreSQL's backends), by pid."""
    totals = {"load generator": {os.getpid(): time.process_time()}}
    for name, parent in processes.items():
        totals[name] = {}
        for process in [parent, *parent.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            totals[name][process.pid] = times.user + times.system
    return totals


def postmaster(data_dir: Path) -> psutil.Process:
    return psutil.Process(int((data_dir / "postmaster.pid").read_text().split()[0]))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def wait_until_up(client: httpx.Client) -> None:
    for _ in range(300):
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the API did not come up")


if __name__ == "__main__":
    main()
