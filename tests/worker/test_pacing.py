"""The shared pace on a real PostgreSQL: leases of slots never let the callers of all workers
together go faster than the rate, cost one statement per lease rather than per call, and a
rate-limit answer holds every worker off."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from worker.db import Pool
from worker.pacing import CUT_TO, SLOWEST_RATE, PostgresPacer, rate_after_cut
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


def test_a_cut_just_over_the_quota_takes_a_share_of_the_rate() -> None:
    # 10.5/s granted, 10/s went through: just over the quota.
    cut = rate_after_cut(10.5, granted=105, refused=5, window_seconds=10.0)
    assert cut == 10.5 * CUT_TO


def test_a_cut_far_over_the_quota_goes_by_what_the_source_accepted() -> None:
    # A pace of 100,000/s against a quota of 10/s: 2,000 granted in 2 s, 20 went through.
    cut = rate_after_cut(100_000.0, granted=2000, refused=1980, window_seconds=2.0)
    assert cut == 10.0 * CUT_TO


def test_a_cut_too_soon_to_measure_takes_a_share_of_the_rate_and_never_reaches_zero() -> None:
    assert rate_after_cut(100.0, granted=50, refused=50, window_seconds=0.1) == 100.0 * CUT_TO
    assert rate_after_cut(0.1, granted=0, refused=9, window_seconds=5.0) == SLOWEST_RATE
