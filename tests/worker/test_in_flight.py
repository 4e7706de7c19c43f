"""Derivatives give way to transfers: the in-flight limit says when no file has moved for a
while."""

import asyncio

from worker.in_flight import InFlightLimit


async def test_waiting_for_idle_returns_only_once_files_stopped_moving_for_a_while() -> None:
    limit = InFlightLimit(files=2, buffer_bytes=1024)
    released = asyncio.Event()

    async def transfer() -> None:
        async with limit.slot(100):
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
    limit = InFlightLimit(files=2, buffer_bytes=1024)
    await asyncio.wait_for(limit.wait_until_idle(0.05), timeout=0.05)
