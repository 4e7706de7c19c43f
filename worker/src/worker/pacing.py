"""The shared pace for calls to a source, kept in Postgres because that is all the workers share.

The pace lives in one row per source and credential (a generic cell rate algorithm): slots are
1/rate seconds apart, and up to `burst` calls may go at once after a quiet spell. A worker does
not visit that row before every call: it leases several consecutive slots in one round trip
(about LEASE_SECONDS' worth, never more than the burst) and hands them out itself, so the row
still never grants more calls than the rate allows. A rate-limit answer pushes the row's next
slot out and drops this worker's unused lease; other workers see the pause when their current
lease (at most LEASE_SECONDS of calls) runs out.
"""

import asyncio
import hashlib
import time
from collections import deque

from worker import metrics
from worker.db import Pool

# How far ahead one lease reaches: short enough that a pause reaches every worker quickly,
# long enough that a busy worker visits the row a few times a second at most.
LEASE_SECONDS = 0.2
# A leased slot left unused this long past its moment is stale (the worker went quiet): it is
# dropped rather than spent late as a burst.
STALE_LEASE_SECONDS = 1.0

# Reserves `count` consecutive slots; returns when the first one is, in seconds from now.
_LEASE_SLOTS = """
INSERT INTO source_pacing AS p (bucket, next_slot)
VALUES (%(bucket)s, clock_timestamp() + make_interval(secs => %(count)s * %(step)s))
ON CONFLICT (bucket) DO UPDATE SET next_slot =
    GREATEST(p.next_slot, clock_timestamp() - make_interval(secs => %(window)s))
    + make_interval(secs => %(count)s * %(step)s)
RETURNING extract(epoch FROM p.next_slot - clock_timestamp())::float8
          - %(count)s * %(step)s AS first_in
"""

_HOLD_OFF = """
INSERT INTO source_pacing AS p (bucket, next_slot)
VALUES (%(bucket)s, clock_timestamp() + make_interval(secs => %(seconds)s))
ON CONFLICT (bucket) DO UPDATE SET next_slot =
    GREATEST(p.next_slot, clock_timestamp() + make_interval(secs => %(seconds)s))
"""


def pacing_bucket(source: str, credential: str | None) -> str:
    """One pace per source and credential; the credential itself is never stored."""
    if not credential:
        return source
    return f"{source}:{hashlib.sha256(credential.encode()).hexdigest()[:16]}"


class PostgresPacer:
    def __init__(self, pool: Pool, bucket: str, *, requests_per_second: float, burst: int) -> None:
        self._pool = pool
        self._bucket = bucket
        self._source = metrics.source_of_bucket(bucket)
        self._step = 1.0 / requests_per_second
        self._window = burst * self._step
        self._lease_size = max(1, min(burst, round(requests_per_second * LEASE_SECONDS)))
        # Leased slots not handed out yet, as time.monotonic() moments.
        self._slots: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def wait_turn(self) -> None:
        """Return when this caller may send its request."""
        async with self._lock:
            overdue = time.monotonic() - STALE_LEASE_SECONDS
            while self._slots and self._slots[0] < overdue:
                self._slots.popleft()
            if not self._slots:
                await self._lease()
            slot = self._slots.popleft()
        wait = max(slot, self._paused_until) - time.monotonic()
        if wait > 0:
            metrics.PACE_WAIT.labels(self._source).inc(wait)
            await asyncio.sleep(wait)

    async def hold_off(self, seconds: float) -> None:
        """Nobody calls this source for `seconds` from now (a Retry-After, a rate limit)."""
        metrics.HOLD_OFFS.labels(self._source).inc()
        self._slots.clear()
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        async with self._pool.connection() as conn:
            await conn.execute(_HOLD_OFF, {"bucket": self._bucket, "seconds": seconds})

    async def _lease(self) -> None:
        params = {
            "bucket": self._bucket,
            "count": self._lease_size,
            "step": self._step,
            "window": self._window,
        }
        async with self._pool.connection() as conn:
            cur = await conn.execute(_LEASE_SLOTS, params)
            row = await cur.fetchone()
        first = time.monotonic() + (row["first_in"] if row else 0.0)
        self._slots.extend(first + i * self._step for i in range(self._lease_size))


class NoPacing:
    """For connectors used outside a worker (tests of a connector alone)."""

    async def wait_turn(self) -> None:
        return None

    async def hold_off(self, seconds: float) -> None:
        return None
