"""Fault injection with a Nextcloud server's own errors (the rule engine is shared, see
`emulators.common.faults`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from emulators.common.faults import BaseFaultRule, FaultPlan
from emulators.nextcloud.errors import SabreError

# `propfind`: a PROPFIND on any shape; `get`: a file's download.
ROUTE_KINDS: Final = frozenset({"propfind", "get"})
FAULTS: Final = frozenset(
    {
        "too_many_requests",  # 429, Sabre's TooManyRequests, Retry-After
        "service_unavailable",  # 503 (maintenance mode), Retry-After
        "internal_error",  # 500
        "cut_body",  # the body stops part-way and the connection drops (get)
    }
)

__all__ = ["FAULTS", "ROUTE_KINDS", "FaultPlan", "FaultRule"]


@dataclass
class FaultRule(BaseFaultRule):
    route_kinds: ClassVar[frozenset[str]] = ROUTE_KINDS
    fault_names: ClassVar[frozenset[str]] = FAULTS
    content_faults: ClassVar[frozenset[str]] = frozenset({"cut_body"})
    content_routes: ClassVar[frozenset[str]] = frozenset({"get"})
    content_routes_named: ClassVar[str] = "get route"

    routes: frozenset[str] = ROUTE_KINDS

    def error(self) -> SabreError:
        retry = {"Retry-After": str(self.retry_after)}
        match self.fault:
            case "too_many_requests":
                return SabreError(
                    429,
                    "OCA\\DAV\\Connector\\Sabre\\Exception\\TooManyRequests",
                    "Too many requests",
                    retry,
                )
            case "service_unavailable":
                return SabreError(
                    503,
                    "Sabre\\DAV\\Exception\\ServiceUnavailable",
                    "System is in maintenance mode.",
                    retry,
                )
            case "internal_error":
                return SabreError(500, "Exception", "Internal Server Error")
        raise ValueError(f"{self.fault} is not answered with an error")
