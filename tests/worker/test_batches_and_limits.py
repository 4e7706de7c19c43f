"""How a page's files become batches, and how much one worker moves at once."""

import asyncio
from typing import Any

from worker.imports.transfers import plan_batches
from worker.in_flight import InFlightLimit

MB = 1_000_000


def test_batches_close_at_their_file_count() -> None:
    files = [(f"f{i}", 1000) for i in range(250)]
    batches = plan_batches(files, max_files=100, max_bytes=10**9, alone_from_bytes=10**9)
    assert [len(batch) for batch in batches] == [100, 100, 50]
    assert [file_id for batch in batches for file_id in batch] == [f for f, _ in files]


def test_batches_close_before_the_file_that_would_take_them_over_their_bytes() -> None:
    files = [("a", 30 * MB), ("b", 30 * MB), ("c", 30 * MB), ("d", 1 * MB)]
    batches = plan_batches(files, max_files=100, max_bytes=64 * MB, alone_from_bytes=40 * MB)
    assert batches == [["a", "b"], ["c", "d"]]


def test_a_file_at_the_multipart_threshold_goes_alone_and_unknown_sizes_count_by_number() -> None:
    files = [("small", 10), ("big", 16 * MB), ("unknown1", None), ("unknown2", None)]
    batches = plan_batches(files, max_files=2, max_bytes=64 * MB, alone_from_bytes=16 * MB)
    assert batches == [["big"], ["small", "unknown1"], ["unknown2"]]


def test_no_files_no_batches() -> None:
    assert plan_batches([], max_files=10, max_bytes=10, alone_from_bytes=10) == []


async def test_no_more_files_move_at_once_than_the_limit() -> None:
    limit = InFlightLimit(files=3, buffer_bytes=10**9)
    moving = peak = 0

    async def move() -> None:
        nonlocal moving, peak
        async with limit.slot(1000):
            moving += 1
            peak = max(peak, moving)
            await asyncio.sleep(0.01)
            moving -= 1

    await asyncio.gather(*(move() for _ in range(20)))
    assert peak == 3


async def test_files_wait_for_memory_and_one_larger_than_the_budget_waits_to_be_alone() -> None:
    limit = InFlightLimit(files=10, buffer_bytes=100)
    held = peak = 0

    async def move(size: int) -> None:
        nonlocal held, peak
        async with limit.slot(size):
            held += min(size, 100)
            peak = max(peak, held)
            await asyncio.sleep(0.01)
            held -= min(size, 100)

    await asyncio.wait_for(asyncio.gather(*(move(s) for s in [60, 60, 30, 500, 10, 40])), 5)
    assert peak <= 100


async def test_an_empty_file_never_waits_for_memory() -> None:
    limit = InFlightLimit(files=2, buffer_bytes=16)
    async with limit.slot(16):
        await asyncio.wait_for(_enter(limit.slot(0)), 1)


async def _enter(slot: Any) -> None:
    async with slot:
        pass
