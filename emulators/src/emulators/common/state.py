"""Building blocks of an emulator's per-instance state: settings a test changes while the
emulator runs, and the counters it reads back. Both are dataclass mixins, so an emulator lists
its own fields once and the control endpoints work on any of them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


class LiveSettings:
    """A settings dataclass that validates in `__post_init__` and takes partial updates."""

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a partial update (as JSON from the control endpoint), validating it first."""
        known = {f.name for f in fields(self)}  # type: ignore[arg-type]
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        merged = {name: getattr(self, name) for name in known} | dict(changes)
        # Building a new instance runs every check; only then does this one change.
        checked = type(self)(**merged)
        for name in known:
            setattr(self, name, getattr(checked, name))

    def to_json(self) -> dict[str, Any]:
        """The settings as `GET /_emulator/settings` shows them."""
        raise NotImplementedError


class Counters:
    """A dataclass of `Counter` and `int` fields, readable at `GET /_emulator/stats`."""

    def reset(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, Counter):
                value.clear()
            else:
                setattr(self, f.name, 0)

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            counts[f.name] = dict(value) if isinstance(value, Counter) else value
        return counts


@dataclass
class RequestCounters(Counters):
    """What every emulator serving files counts: requests and responses by route kind, faults
    injected by name, and the body bytes sent, in all and per file (`emulators.common.downloads`
    counts those). An emulator's `Stats` adds its own."""

    requests: Counter[str] = field(default_factory=Counter)
    responses: Counter[str] = field(default_factory=Counter)
    faults_injected: Counter[str] = field(default_factory=Counter)
    bytes_by_file: Counter[str] = field(default_factory=Counter)
    bytes_served: int = 0
