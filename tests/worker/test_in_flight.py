"""What one worker process moves at once: files and bytes within the limits, turns shared
between imports, and a quiet spell that derivatives wait for."""

import asyncio
from typing import Any

from worker.in_flight import InFlightLimit
from worker.latency_limit import LatencyLimit


async def test_waiting_for_idle_returns_only_once_files_stopped_moving_for_a_while() -> None:
    limit = InFlightLimit(files=fixed(2), buffer_bytes=1024)
    released = asyncio.Event()

    async def transfer() -> None:
        async with limit.slot(100, line="import"):
            await released.wait()

    moving = asyncio.create_task(transfer())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(limit.wait_until_idle(0.2))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # a file is moving

    released.set()
    await moving
    loop = asyncio.get_running_loop()
    freed_at = loop.time()
    await asyncio.wait_for(waiting, timeout=2)
    assert loop.time() - freed_at >= 0.19  # quiet for a while first


async def test_a_process_that_moved_nothing_for_long_is_idle_at_once() -> None:
    limit = InFlightLimit(files=fixed(2), buffer_bytes=1024)
    await asyncio.wait_for(limit.wait_until_idle(0.05), timeout=0.05)


async def test_no_more_files_move_at_once_than_the_limit() -> None:
    limit = InFlightLimit(files=fixed(3), buffer_bytes=10**9)
    moving = peak = 0

    async def move() -> None:
        nonlocal moving, peak
        async with limit.slot(1000, line="import"):
            moving += 1
            peak = max(peak, moving)
            await asyncio.sleep(0.01)
            moving -= 1

    await asyncio.gather(*(move() for _ in range(20)))
    assert peak == 3


async def test_files_wait_for_memory_and_one_larger_than_the_budget_waits_to_be_alone() -> None:
    limit = InFlightLimit(files=fixed(10), buffer_bytes=100)
    held = peak = 0

    async def move(size: int) -> None:
        nonlocal held, peak
        async with limit.slot(size, line="import"):
            held += min(size, 100)
            peak = max(peak, held)
            await asyncio.sleep(0.01)
            held -= min(size, 100)

    await asyncio.wait_for(asyncio.gather(*(move(s) for s in [60, 60, 30, 500, 10, 40])), 5)
    assert peak <= 100


async def test_an_empty_file_never_waits_for_memory() -> None:
    limit = InFlightLimit(files=fixed(2), buffer_bytes=16)
    async with limit.slot(16, line="import"):
        await asyncio.wait_for(_enter(limit.slot(0, line="import")), 1)


async def _enter(slot: Any) -> None:
    async with slot:
        pass


async def test_turns_go_round_the_imports_so_a_small_one_is_not_behind_a_big_ones_line() -> None:
    limit = InFlightLimit(files=fixed(2), buffer_bytes=10**9)
    order: list[str] = []

    async def move(line: str) -> None:
        async with limit.slot(10, line=line):
            order.append(line)
            await asyncio.sleep(0.001)

    big = [asyncio.create_task(move("big")) for _ in range(40)]
    await asyncio.sleep(0)
    small = [asyncio.create_task(move("small")) for _ in range(4)]
    await asyncio.gather(*big, *small)
    # The small import's files start within its first turns, not after the big one's 40.
    last_small = max(i for i, line in enumerate(order) if line == "small")
    assert last_small < 12, order


async def test_a_file_cancelled_while_waiting_gives_its_turn_to_the_next() -> None:
    limit = InFlightLimit(files=fixed(1), buffer_bytes=10**9)
    release = asyncio.Event()

    async def move(line: str) -> None:
        async with limit.slot(10, line=line):
            await release.wait()

    first = asyncio.create_task(move("a"))
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(move("b"))
    waiting = asyncio.create_task(move("c"))
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    await asyncio.wait_for(asyncio.gather(first, waiting), 2)
    assert limit.moving == 0


def fixed(files: int) -> LatencyLimit:
    return LatencyLimit(initial=files, minimum=files, maximum=files)
