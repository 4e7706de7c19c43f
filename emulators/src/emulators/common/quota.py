"""Per-caller request quotas, as the services enforce them: every caller (an OAuth token, an API
key, an app) has its own token bucket, refilled at a steady rate up to a burst, and a request
that finds it empty is refused with the service's rate-limit answer.

Fault rules (`emulators.common.faults`) refuse a chosen share of requests whatever the caller
does; a quota refuses only what goes beyond a rate, so a client that paces itself right is
never refused. That is what a benchmark of "find the rate yourself" needs: the emulator counts
what it served and refused (`answers` in each emulator's stats), and the client's retries can
be checked against the refusals.

The rate and burst are read from the emulator's live settings on every request, so a test or
a benchmark can change them while the emulator runs; each caller's bucket keeps its level.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class CallerQuotas:
    """Token buckets by caller, safe to share between the server thread and a test's thread.

    `charge_refusals`: whether a refused request still takes a token (the bucket goes into
    debt), as Dropbox documents ("rate limited requests themselves also count towards rate
    limits"); Google documents nothing of the kind, so Drive's refusals are free.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(
        self, caller: str, rate: float, burst: float, *, charge_refusals: bool = False
    ) -> float | None:
        """Take one request from `caller`'s bucket: None when it may be served, else the
        seconds until its bucket holds a whole token again. A rate of 0 means no quota."""
        if rate <= 0:
            return None
        capacity = burst_of(rate, burst)
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(caller)
            if bucket is None:
                bucket = self._buckets[caller] = _Bucket(capacity, now)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            # (A hair below one is one: refills add up in floating point.)
            if bucket.tokens >= 1 - 1e-9:
                bucket.tokens -= 1
                return None
            if charge_refusals:
                bucket.tokens -= 1
            return (1 - bucket.tokens) / rate

    def reset(self) -> None:
        """Forget every caller: all buckets start full again."""
        with self._lock:
            self._buckets.clear()


def burst_of(rate: float, burst: float) -> float:
    """The bucket's size: `burst`, or one second's worth of requests when 0 (at least one)."""
    return burst if burst > 0 else max(1.0, float(math.ceil(rate)))


def check_quota_settings(rate: float, burst: float) -> None:
    if rate < 0:
        raise ValueError("rate_limit_per_s must not be negative (0: no quota)")
    if burst < 0:
        raise ValueError("rate_limit_burst must not be negative (0: one second's worth)")
    if 0 < burst < 1:
        raise ValueError("rate_limit_burst must hold at least one request")
