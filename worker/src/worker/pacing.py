"""The shared pace for calls to a source, kept in Postgres because that is all the workers share.

Each call takes the next free slot from one row (a generic cell rate algorithm): slots are
1/rate seconds apart, and up to `burst` calls may go at once after a quiet spell. A rate-limit
answer pushes the row's next slot out, so every worker backs off together.
"""

import asyncio
import hashlib

from worker.db import Pool

_TAKE_SLOT = """
INSERT INTO source_pacing AS p (bucket, next_slot)
VALUES (%(bucket)s, clock_timestamp() + make_interval(secs => %(step)s))
ON CONFLICT (bucket) DO UPDATE SET next_slot =
    GREATEST(p.next_slot, clock_timestamp() - make_interval(secs => %(window)s))
    + make_interval(secs => %(step)s)
RETURNING extract(epoch FROM p.next_slot - clock_timestamp())::float8 - %(step)s AS wait
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
        self._step = 1.0 / requests_per_second
        self._window = burst * self._step

    async def wait_turn(self) -> None:
        """Return when this caller may send its request."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                _TAKE_SLOT, {"bucket": self._bucket, "step": self._step, "window": self._window}
            )
            row = await cur.fetchone()
        wait = row["wait"] if row else 0.0
        if wait > 0:
            await asyncio.sleep(wait)

    async def hold_off(self, seconds: float) -> None:
        """Nobody calls this source for `seconds` from now (a Retry-After, a rate limit)."""
        async with self._pool.connection() as conn:
            await conn.execute(_HOLD_OFF, {"bucket": self._bucket, "seconds": seconds})


class NoPacing:
    """For connectors used outside a worker (tests of a connector alone)."""

    async def wait_turn(self) -> None:
        return None

    async def hold_off(self, seconds: float) -> None:
        return None
