"""Fault injection: answer chosen requests with the errors Drive produces under load.

Rules are evaluated in order for every Drive request; the first rule that fires wins. A rule
fires on every Nth matching request (`every`), or with a seeded probability (`probability`),
after `skip` matching requests and at most `limit` times. The same seed and the same request
order give the same faults, so a flaky-looking test is reproducible.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from emulators.google_drive import errors

# The API routes, and the key-less web pages (`web_list`: embeddedfolderview; `web_media`: the
# `uc` / `drive.usercontent.google.com/download` downloads).
ROUTE_KINDS: Final = frozenset({"list", "get", "media", "web_list", "web_media"})
MEDIA_ROUTES: Final = frozenset({"media", "web_media"})
FAULTS: Final = frozenset(
    {
        "user_rate_limit_exceeded",  # 403 usageLimits/userRateLimitExceeded
        "rate_limit_exceeded",  # 403 usageLimits/rateLimitExceeded
        "too_many_requests",  # 429 with Retry-After
        "backend_error",  # 500 backendError
        "service_unavailable",  # 503
        "download_quota_exceeded",  # 403 downloadQuotaExceeded; web: the quota page (media only)
        "cut_body",  # full Content-Length, connection closed part-way (media only)
    }
)
_MEDIA_ONLY: Final = frozenset({"cut_body", "download_quota_exceeded"})


@dataclass
class FaultRule:
    """One fault and when to inject it; counters (`seen`, `fired`) are per rule."""

    fault: str
    routes: frozenset[str] = ROUTE_KINDS
    every: int | None = None
    probability: float | None = None
    skip: int = 0
    limit: int | None = None
    file_ids: frozenset[str] | None = None
    retry_after: int = 1
    cut_at: float = 0.5  # below 1: fraction of the body; 1 or more: a byte count
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; choose from {sorted(FAULTS)}")
        self.routes = frozenset(self.routes)
        if self.fault in _MEDIA_ONLY:
            if self.routes == ROUTE_KINDS:
                self.routes = MEDIA_ROUTES
            if not self.routes or not self.routes <= MEDIA_ROUTES:
                raise ValueError(f"{self.fault} only applies to the media routes")
        if not self.routes or not self.routes <= ROUTE_KINDS:
            raise ValueError(f"routes must be a non-empty subset of {sorted(ROUTE_KINDS)}")
        if self.every is not None and self.probability is not None:
            raise ValueError("give either every or probability, not both")
        if self.every is not None and self.every < 1:
            raise ValueError("every must be at least 1")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.cut_at <= 0:
            raise ValueError("cut_at must be positive")
        if self.file_ids is not None:
            self.file_ids = frozenset(self.file_ids)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultRule:
        allowed = {
            "fault",
            "routes",
            "every",
            "probability",
            "skip",
            "limit",
            "file_ids",
            "retry_after",
            "cut_at",
        }
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault rule keys: {sorted(unknown)}")
        values = dict(data)
        if "routes" in values:
            values["routes"] = frozenset(values["routes"])
        if values.get("file_ids") is not None:
            values["file_ids"] = frozenset(values["file_ids"])
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "routes": sorted(self.routes),
            "every": self.every,
            "probability": self.probability,
            "skip": self.skip,
            "limit": self.limit,
            "file_ids": sorted(self.file_ids) if self.file_ids is not None else None,
            "retry_after": self.retry_after,
            "cut_at": self.cut_at,
            "seen": self.seen,
            "fired": self.fired,
        }

    def error(self) -> errors.DriveError:
        """The error response for faults answered before any body byte is sent."""
        match self.fault:
            case "user_rate_limit_exceeded":
                return errors.user_rate_limit_exceeded()
            case "rate_limit_exceeded":
                return errors.rate_limit_exceeded()
            case "too_many_requests":
                return errors.too_many_requests(self.retry_after)
            case "backend_error":
                return errors.backend_error()
            case "service_unavailable":
                return errors.service_unavailable(self.retry_after)
            case "download_quota_exceeded":
                return errors.download_quota_exceeded()
        raise ValueError(f"{self.fault} is not answered with an error body")

    def cut_point(self, length: int) -> int:
        """How many of `length` body bytes to send before dropping the connection."""
        point = int(self.cut_at) if self.cut_at >= 1 else int(length * self.cut_at)
        return max(0, min(point, length - 1))


class FaultPlan:
    """The active rules of one emulator; replaced atomically by tests or the control endpoint."""

    def __init__(self, rules: Iterable[FaultRule] = (), seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._randoms: list[random.Random] = []
        self.seed = seed
        self.replace(rules, seed)

    def replace(self, rules: Iterable[FaultRule], seed: int | None = None) -> None:
        with self._lock:
            if seed is not None:
                self.seed = seed
            self._rules = list(rules)
            self._randoms = [random.Random(f"{self.seed}:{i}") for i in range(len(self._rules))]

    def clear(self) -> None:
        self.replace(())

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"seed": self.seed, "rules": [rule.to_json() for rule in self._rules]}

    def decide(self, route: str, file_id: str | None) -> FaultRule | None:
        """Count this request against every matching rule; return the first rule that fires."""
        chosen: FaultRule | None = None
        with self._lock:
            for rule, rng in zip(self._rules, self._randoms, strict=True):
                if route not in rule.routes:
                    continue
                if rule.file_ids is not None and file_id not in rule.file_ids:
                    continue
                rule.seen += 1
                if chosen is not None:
                    continue
                if rule.seen <= rule.skip:
                    continue
                if rule.limit is not None and rule.fired >= rule.limit:
                    continue
                if rule.probability is not None:
                    fires = rng.random() < rule.probability
                else:
                    fires = (rule.seen - rule.skip) % (rule.every or 1) == 0
                if fires:
                    rule.fired += 1
                    chosen = rule
        return chosen
