"""The shared pace on a real PostgreSQL: leases of slots never let the callers of all workers
together go faster than the rate, cost one statement per lease rather than per call, and a
rate-limit answer holds every worker off."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from worker.db import Pool
from worker.pacing import PostgresPacer
from worker.settings import Settings


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    from worker.db import create_pool

    pool = create_pool(Settings(database_url=database_url))
    await pool.open(wait=True)
    try:
        yield pool
    finally:
        await pool.close()


class CountingPacer(PostgresPacer):
    leases = 0

    async def _lease(self) -> None:
        CountingPacer.leases += 1
        await super()._lease()


async def test_two_workers_together_keep_to_the_rate_with_a_lease_per_many_calls(
    pool: Pool,
) -> None:
    rate, burst, calls = 100.0, 10, 120
    workers = [
        CountingPacer(pool, "test:together", requests_per_second=rate, burst=burst)
        for _ in range(2)
    ]
    CountingPacer.leases = 0
    started = time.monotonic()
    await asyncio.gather(*(workers[i % 2].wait_turn() for i in range(calls)))
    elapsed = time.monotonic() - started

    # After the first burst, calls go 1/rate apart, whichever worker sends them.
    assert elapsed >= (calls - burst) / rate * 0.95
    assert CountingPacer.leases <= calls / 10


async def test_a_rate_limit_answer_holds_off_the_other_workers(pool: Pool) -> None:
    first = PostgresPacer(pool, "test:hold", requests_per_second=1000.0, burst=5)
    second = PostgresPacer(pool, "test:hold", requests_per_second=1000.0, burst=5)
    await first.wait_turn()

    await first.hold_off(1.0)
    started = time.monotonic()
    await second.wait_turn()
    await first.wait_turn()

    assert time.monotonic() - started >= 0.95
