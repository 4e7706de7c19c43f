"""Micro-benchmark: how fast the Drive emulator builds a benchmark fixture and serves its
synthetic bytes, to check that real photos in the demo fixtures (issue 25) cost the benchmarks
nothing: their fixtures have no `picture`, so every file keeps synthetic bytes.

Three figures, each the best of BENCH_ROUNDS (default 3) in this process:

1. build: `DriveFixture.from_yaml(bench/flat_10k.yaml)` (10,000 items), seconds;
2. generate: every byte of those 10,000 files (1.5 GB) from the content generator, GB/s;
3. serve: BENCH_DOWNLOADS (default 2,000) of them downloaded over HTTP (`alt=media`) from the
   emulator on 127.0.0.1, 16 at a time, files/s.

    uv run python bench/fixture_serving.py

Run the same script on two checkouts to compare them; on a shared machine, run them
alternately and compare CPU-bound figures only with care.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx

from emulators.google_drive import DriveFixture, EmulatorServer

SPEC = Path(__file__).resolve().parent / "flat_10k.yaml"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
DOWNLOADS = int(os.environ.get("BENCH_DOWNLOADS", "2000"))
AT_ONCE = 16


def best(measure: list[float]) -> float:
    return min(measure)


def build() -> tuple[DriveFixture, float]:
    times = []
    fixture = None
    for _ in range(ROUNDS):
        started = time.perf_counter()
        fixture = DriveFixture.from_yaml(SPEC)
        times.append(time.perf_counter() - started)
    assert fixture is not None
    return fixture, best(times)


def generate(fixture: DriveFixture, ids: list[str]) -> tuple[int, float]:
    times = []
    total = 0
    for _ in range(ROUNDS):
        total = 0
        started = time.perf_counter()
        for file_id in ids:
            for chunk in fixture.iter_bytes(file_id):
                total += len(chunk)
        times.append(time.perf_counter() - started)
    return total, best(times)


async def serve(server: EmulatorServer, ids: list[str]) -> float:
    limits = httpx.Limits(max_connections=AT_ONCE)
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits) as http:
        queue = list(ids)

        async def downloader() -> None:
            while queue:
                file_id = queue.pop()
                response = await http.get(
                    f"/drive/v3/files/{file_id}", params={"alt": "media", "key": "bench"}
                )
                assert response.status_code == 200, response.text[:200]

        started = time.perf_counter()
        await asyncio.gather(*(downloader() for _ in range(AT_ONCE)))
        return time.perf_counter() - started


def main() -> None:
    fixture, build_seconds = build()
    ids = [file.id for file in fixture.expected_images("flat")]
    total, generate_seconds = generate(fixture, ids)
    with EmulatorServer(fixture) as server:
        serve_seconds = best([asyncio.run(serve(server, ids[:DOWNLOADS])) for _ in range(ROUNDS)])
    print(f"build     {len(ids):,} files: {build_seconds:.2f} s")
    print(f"generate  {total / 1e9:.2f} GB: {total / generate_seconds / 1e9:.2f} GB/s")
    print(f"serve     {DOWNLOADS:,} files over HTTP: {DOWNLOADS / serve_seconds:,.0f} files/s")


if __name__ == "__main__":
    main()
