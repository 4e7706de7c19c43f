"""The shared pace for calls to a source, kept in Postgres because that is all the workers share.

The pace lives in one row per source and credential (a generic cell rate algorithm): slots are
1/rate seconds apart, and up to `burst` calls may go at once after a quiet spell. A worker does
not visit that row before every call: it leases several consecutive slots in one round trip
(about LEASE_SECONDS' worth, never more than the burst) and hands them out itself, so the row
still never grants more calls than the rate allows.

The rate follows the source's answers (AIMD, as TCP does): a rate-limit answer cuts it to a
share of what the source accepted lately, at most once a second however many answers say so,
and it grows back gently (a few per cent a second) up to SOURCE_REQUESTS_PER_SECOND. So a
source whose real quota nobody configured is found within seconds, every worker keeps to it,
and only the requests that crossed it are refused (and retried). A Retry-After also pushes the
next slot out for everyone; other workers see it when their current lease (at most
LEASE_SECONDS of calls) runs out.
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
# After a rate-limit answer the rate becomes this share of itself, or of what the source
# accepted lately when that is far below it (a pace far above an unknown quota) ...
CUT_TO = 0.85
# ... once in this long: the answers to requests already sent say nothing new.
CUT_EVERY_SECONDS = 1.0
# It grows back by this factor a second, up to the configured rate.
GROWTH_PER_SECOND = 1.05
# Never slower than this (requests per second): a source that refuses everything is paced by
# its Retry-After and the files' own backoff, not by a rate near zero.
SLOWEST_RATE = 0.5
# What the source accepted is measured over at most this long (a lease starts a new window
# when its window is older), and at least this long for a cut to go by it.
WINDOW_SECONDS = 5.0
MEASURED_WINDOW_SECONDS = 0.5

# Reserves `count` consecutive slots; returns when the first one is, in seconds from now, and
# the rate they are spaced at.
# (The rate allowed now is the configured one, or the last cut's grown since.)
_LEASE_SLOTS = """
WITH pace AS (SELECT coalesce((SELECT LEAST(%(rate)s, p.rate * power(%(growth)s, LEAST(1000,
                          extract(epoch FROM clock_timestamp() - p.rate_cut_at))))
             FROM source_pacing p WHERE p.bucket = %(bucket)s), %(rate)s) AS rate)
INSERT INTO source_pacing AS p (bucket, next_slot, granted, window_started)
SELECT %(bucket)s, clock_timestamp() + make_interval(secs => %(count)s / pace.rate),
       %(count)s, clock_timestamp()
FROM pace
ON CONFLICT (bucket) DO UPDATE SET
    next_slot = GREATEST(p.next_slot, clock_timestamp() - make_interval(secs => %(window)s))
                + make_interval(secs => %(count)s / (SELECT rate FROM pace)),
    granted = CASE WHEN p.window_started < clock_timestamp() - make_interval(secs => %(measure)s)
                   THEN %(count)s ELSE p.granted + %(count)s END,
    refused = CASE WHEN p.window_started < clock_timestamp() - make_interval(secs => %(measure)s)
                   THEN 0 ELSE p.refused END,
    window_started = CASE
        WHEN p.window_started < clock_timestamp() - make_interval(secs => %(measure)s)
        THEN clock_timestamp() ELSE p.window_started END
RETURNING extract(epoch FROM p.next_slot - clock_timestamp())::float8
          - %(count)s / (SELECT rate FROM pace) AS first_in,
          (SELECT rate FROM pace) AS rate
"""

_PACE_FOR_UPDATE = """
SELECT coalesce(LEAST(%(rate)s, rate * power(%(growth)s, LEAST(1000,
                      extract(epoch FROM clock_timestamp() - rate_cut_at)))), %(rate)s) AS rate,
       rate_cut_at > clock_timestamp() - make_interval(secs => %(cut_every)s) AS cut_lately,
       granted, refused,
       extract(epoch FROM clock_timestamp() - window_started)::float8 AS window_seconds
FROM source_pacing WHERE bucket = %(bucket)s FOR UPDATE
"""

_REFUSED = """
INSERT INTO source_pacing AS p (bucket, next_slot, refused)
VALUES (%(bucket)s, clock_timestamp() + make_interval(secs => %(seconds)s), 1)
ON CONFLICT (bucket) DO UPDATE SET
    next_slot = GREATEST(p.next_slot, clock_timestamp() + make_interval(secs => %(seconds)s)),
    refused = p.refused + 1
"""

_CUT = """
UPDATE source_pacing SET rate = %(new_rate)s, rate_cut_at = clock_timestamp(),
    granted = 0, refused = 0, window_started = clock_timestamp()
WHERE bucket = %(bucket)s
"""


def pacing_bucket(source: str, credential: str | None) -> str:
    """One pace per source and credential; the credential itself is never stored."""
    if not credential:
        return source
    return f"{source}:{hashlib.sha256(credential.encode()).hexdigest()[:16]}"


def rate_after_cut(rate: float, *, granted: int, refused: int, window_seconds: float) -> float:
    """The rate after a rate-limit answer. Just over the quota, a share of the rate: the
    sawtooth then stays within (1 - CUT_TO) / 2 of the quota on average. Far over it (the source
    accepted less than half of what the pace granted in the window: a pace set for another
    quota, or none), a share of what went through, which is what the source allows; a window
    too short to tell falls back to the rate."""
    if window_seconds >= MEASURED_WINDOW_SECONDS:
        accepted = max(granted - refused, 0) / window_seconds
        if accepted < rate / 2:
            rate = accepted
    return max(SLOWEST_RATE, rate * CUT_TO)


class PostgresPacer:
    def __init__(self, pool: Pool, bucket: str, *, requests_per_second: float, burst: int) -> None:
        self._pool = pool
        self._bucket = bucket
        self._source = metrics.source_of_bucket(bucket)
        self._configured_rate = requests_per_second
        self._rate = requests_per_second
        self._burst = burst
        # A quiet spell earns at most `burst` calls at the configured rate: in seconds, so a
        # rate cut after a rate-limit answer earns fewer.
        self._window = burst / requests_per_second
        # Leased slots not handed out yet, as time.monotonic() moments.
        self._slots: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    @property
    def rate(self) -> float:
        """The rate of this worker's last lease (requests per second)."""
        return self._rate

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
        """The source answered a call with a rate limit: the shared rate is cut (once in
        CUT_EVERY_SECONDS), and nobody calls it for `seconds` from now (its Retry-After)."""
        metrics.HOLD_OFFS.labels(self._source).inc()
        self._slots.clear()
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        params = {
            "bucket": self._bucket,
            "seconds": seconds,
            "rate": self._configured_rate,
            "growth": GROWTH_PER_SECOND,
            "cut_every": CUT_EVERY_SECONDS,
        }
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(_REFUSED, params)
            cur = await conn.execute(_PACE_FOR_UPDATE, params)
            pace = await cur.fetchone()
            if pace is None or pace["cut_lately"]:
                return
            new_rate = rate_after_cut(
                pace["rate"],
                granted=pace["granted"],
                refused=pace["refused"],
                window_seconds=pace["window_seconds"],
            )
            await conn.execute(_CUT, {"bucket": self._bucket, "new_rate": new_rate})
        self._rate = new_rate
        metrics.PACE_RATE.labels(self._source).set(new_rate)

    async def _lease(self) -> None:
        count = max(1, min(self._burst, round(self._rate * LEASE_SECONDS)))
        params = {
            "bucket": self._bucket,
            "count": count,
            "rate": self._configured_rate,
            "growth": GROWTH_PER_SECOND,
            "window": self._window,
            "measure": WINDOW_SECONDS,
        }
        async with self._pool.connection() as conn:
            cur = await conn.execute(_LEASE_SLOTS, params)
            row = await cur.fetchone()
        assert row is not None
        self._rate = row["rate"]
        metrics.PACE_RATE.labels(self._source).set(self._rate)
        first = time.monotonic() + row["first_in"]
        step = 1.0 / self._rate
        self._slots.extend(first + i * step for i in range(count))


class NoPacing:
    """For connectors used outside a worker (tests of a connector alone)."""

    async def wait_turn(self) -> None:
        return None

    async def hold_off(self, seconds: float) -> None:
        return None
