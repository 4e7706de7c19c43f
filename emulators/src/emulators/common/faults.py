"""Fault injection: answer chosen requests with the errors a service produces under load.

Rules are evaluated in order for every request to the emulated API; the first rule that fires
wins. A rule fires on every Nth matching request (`every`), or with a seeded probability
(`probability`), after `skip` matching requests and at most `limit` times. The same seed and the
same request order give the same faults, so a flaky-looking test is reproducible.

Each emulator subclasses `BaseFaultRule` with its route kinds, its faults and the error each
fault is answered with; the semantics of a rule and `FaultPlan` are the same for all.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Generic, TypeVar


@dataclass
class BaseFaultRule:
    """One fault and when to inject it; counters (`seen`, `fired`) are per rule."""

    # Set by each emulator's subclass.
    route_kinds: ClassVar[frozenset[str]]
    fault_names: ClassVar[frozenset[str]]
    # Faults that only make sense on the routes that send a file's content, and those routes
    # (as the validation error names them).
    content_faults: ClassVar[frozenset[str]]
    content_routes: ClassVar[frozenset[str]]
    content_routes_named: ClassVar[str]

    fault: str
    # A subclass redeclares it with all its route kinds as the default.
    routes: frozenset[str] = frozenset()
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
        if self.fault not in self.fault_names:
            choices = sorted(self.fault_names)
            raise ValueError(f"unknown fault {self.fault!r}; choose from {choices}")
        self.routes = frozenset(self.routes)
        if self.fault in self.content_faults:
            if self.routes == self.route_kinds:
                self.routes = self.content_routes
            if not self.routes <= self.content_routes:
                raise ValueError(f"{self.fault} only applies to the {self.content_routes_named}")
        if not self.routes or not self.routes <= self.route_kinds:
            raise ValueError(f"routes must be a non-empty subset of {sorted(self.route_kinds)}")
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
    def from_json(cls: type[RuleT], data: Mapping[str, Any]) -> RuleT:
        allowed = {f.name for f in fields(cls) if f.init}
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

    def error(self) -> Exception:
        """The error response for faults answered before any body byte is sent."""
        raise NotImplementedError

    def cut_point(self, length: int) -> int:
        """How many of `length` body bytes to send before dropping the connection."""
        point = int(self.cut_at) if self.cut_at >= 1 else int(length * self.cut_at)
        return max(0, min(point, length - 1))


RuleT = TypeVar("RuleT", bound=BaseFaultRule)


class FaultPlan(Generic[RuleT]):
    """The active rules of one emulator; replaced atomically by tests or the control endpoint."""

    def __init__(self, rules: Iterable[RuleT] = (), seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[RuleT] = []
        self._randoms: list[random.Random] = []
        self.seed = seed
        self.replace(rules, seed)

    def replace(self, rules: Iterable[RuleT], seed: int | None = None) -> None:
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

    def decide(self, route: str, file_id: str | None) -> RuleT | None:
        """Count this request against every matching rule; return the first rule that fires."""
        chosen: RuleT | None = None
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

    def inject(self, route: str, file_id: str | None, injected: Counter[str]) -> RuleT | None:
        """`decide`, for a route that answers every fault but a cut with the fault's error: the
        error is raised (and counted in `injected`), a `cut_body` rule is returned for the body
        to honour, and None means no rule fired."""
        rule = self.decide(route, file_id)
        if rule is None or rule.fault == "cut_body":
            return rule
        injected[rule.fault] += 1
        raise rule.error()
