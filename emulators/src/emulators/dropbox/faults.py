"""Fault injection, with the Drive emulator's rule semantics (`every`, `probability`, `skip`,
`limit`, `file_ids`, `retry_after`, `cut_at`) and `FaultPlan`, and Dropbox's own errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from emulators.dropbox import errors
from emulators.google_drive.faults import FaultPlan

# RPC routes (`metadata`: sharing/get_shared_link_metadata; `list`: files/list_folder;
# `list_continue`: files/list_folder/continue), the content route (`file`:
# sharing/get_shared_link_file), and the web (`web`: the link page and its dl=1 redirect; `zip`:
# the folder's zip download).
ROUTE_KINDS: Final = frozenset({"metadata", "list", "list_continue", "file", "web", "zip"})
BODY_ROUTES: Final = frozenset({"file", "zip"})
FAULTS: Final = frozenset(
    {
        "too_many_requests",  # 429 JSON, reason too_many_requests, Retry-After
        "too_many_requests_text",  # 429 plain text, Retry-After
        "too_many_write_operations",  # 429 JSON, reason too_many_write_operations
        "internal_error",  # 500
        "service_unavailable",  # 503, Retry-After
        "cut_body",  # the body stops part-way and the connection drops (file, zip)
    }
)

__all__ = ["FAULTS", "ROUTE_KINDS", "FaultPlan", "FaultRule"]


@dataclass
class FaultRule:
    """One fault and when to inject it; `FaultPlan` (shared with the Drive emulator) decides."""

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
        if self.fault == "cut_body":
            if self.routes == ROUTE_KINDS:
                self.routes = BODY_ROUTES
            if not self.routes <= BODY_ROUTES:
                raise ValueError("cut_body only applies to the file and zip routes")
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

    def error(self) -> errors.DropboxError:
        match self.fault:
            case "too_many_requests":
                return errors.too_many_requests(self.retry_after)
            case "too_many_requests_text":
                return errors.too_many_requests_text(self.retry_after)
            case "too_many_write_operations":
                return errors.too_many_requests(self.retry_after, "too_many_write_operations")
            case "internal_error":
                return errors.internal_error()
            case "service_unavailable":
                return errors.service_unavailable(self.retry_after)
        raise ValueError(f"{self.fault} is not answered with an error")

    def cut_point(self, length: int) -> int:
        """How many of `length` body bytes to send before dropping the connection (for a zip
        built on the fly, `length` is the sum of its files' sizes)."""
        point = int(self.cut_at) if self.cut_at >= 1 else int(length * self.cut_at)
        return max(0, min(point, length - 1))
