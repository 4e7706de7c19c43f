"""Fault injection with the errors Drive produces under load (the rule engine is shared, see
`emulators.common.faults`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from emulators.common.faults import BaseFaultRule, FaultPlan
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

__all__ = ["FAULTS", "MEDIA_ROUTES", "ROUTE_KINDS", "FaultPlan", "FaultRule"]


@dataclass
class FaultRule(BaseFaultRule):
    """One Drive fault and when to inject it; counters (`seen`, `fired`) are per rule."""

    route_kinds: ClassVar[frozenset[str]] = ROUTE_KINDS
    fault_names: ClassVar[frozenset[str]] = FAULTS
    content_faults: ClassVar[frozenset[str]] = frozenset({"cut_body", "download_quota_exceeded"})
    content_routes: ClassVar[frozenset[str]] = MEDIA_ROUTES
    content_routes_named: ClassVar[str] = "media routes"

    routes: frozenset[str] = ROUTE_KINDS

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
