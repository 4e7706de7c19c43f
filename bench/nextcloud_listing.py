"""Micro-benchmark: one large Nextcloud folder listed by the worker's connector (issue 24's
target: 10,000 files in one folder listed in under 10 s, peak worker RSS under 200 MB).

The Nextcloud emulator runs in its own process (`python -m emulators.nextcloud --files N`);
this process imports what the worker process imports (its task modules, boto3, Pillow, ...), so
its resident set starts where a worker's does, then lists the folder page by page exactly as
the pipeline does (`list_page` from each `next_page_token`, LISTING_PAGE_SIZE 1,000), through
the worker's own source client. No database: what is timed is the source's side of listing.

    uv run python bench/nextcloud_listing.py                  # 10,000 files
    BENCH_FILES=50000 uv run python bench/nextcloud_listing.py

Reported: seconds to list, CPU seconds of this process, and peak RSS (getrusage) before and
after. It checks every file was listed once, but never gates on time.
"""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import time

import httpx

import worker.tasks  # noqa: F401  (a worker process's imports, for a worker's baseline RSS)
from devstack.ports import free_port
from domain.address_policy import parse_networks
from domain.sources.nextcloud import NextcloudShare
from worker.http_client import create_source_client
from worker.pacing import NoPacing
from worker.settings import Settings
from worker.sources.base import ImportLink
from worker.sources.nextcloud import NextcloudConnector

FILES = int(os.environ.get("BENCH_FILES", "10000"))
PAGE_SIZE = 1000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def start_emulator(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "emulators.nextcloud", "--port", str(port), "--files", str(FILES)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if b"NEXTCLOUD_ALLOWED_NETWORKS" in line:
            return process
    raise RuntimeError("the Nextcloud emulator did not start")


def bulk_token(port: int) -> str:
    fixture = httpx.get(f"http://127.0.0.1:{port}/_emulator/fixture").json()
    return next(share["token"] for share in fixture["shares"] if share["name"] == "Bulk")


async def list_folder(port: int, token: str) -> int:
    base_url = f"http://127.0.0.1:{port}"
    share = NextcloudShare(f"127.0.0.1:{port}/s/{token}", base_url, token)
    async with create_source_client(Settings()) as http:
        connector = NextcloudConnector(
            http,
            pacer_for=lambda host: NoPacing(),
            allowed_networks=parse_networks(["127.0.0.0/8"]),
            page_size=PAGE_SIZE,
            spool_dir=None,
        ).for_link(ImportLink(share))
        await connector.check_folder(share.root())
        names: set[str] = set()
        page_token = None
        while True:
            page = await connector.list_page(share.root(), page_token)
            names.update(file.name for file in page.files)
            page_token = page.next_page_token
            if page_token is None:
                return len(names)


def main() -> None:
    port = free_port()
    emulator = start_emulator(port)
    try:
        token = bulk_token(port)
        rss_before = peak_rss_mb()
        cpu_before = time.process_time()
        started = time.perf_counter()
        listed = asyncio.run(list_folder(port, token))
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
    finally:
        emulator.terminate()
        emulator.wait()
    assert listed == FILES, (listed, FILES)
    print(
        f"nextcloud listing: {FILES:,} files in one folder listed in {seconds:.2f} s "
        f"({cpu:.2f} CPU-s in the worker's process); peak RSS {peak_rss_mb():.0f} MB "
        f"(a worker's imports alone: {rss_before:.0f} MB)"
    )


if __name__ == "__main__":
    main()
