"""Fault injection with Dropbox's own errors (the rule engine is shared with the Drive
emulator, see `emulators.common.faults`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from emulators.common.faults import BaseFaultRule, FaultPlan
from emulators.dropbox import errors

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
class FaultRule(BaseFaultRule):
    """One Dropbox fault and when to inject it; counters (`seen`, `fired`) are per rule."""

    route_kinds: ClassVar[frozenset[str]] = ROUTE_KINDS
    fault_names: ClassVar[frozenset[str]] = FAULTS
    content_faults: ClassVar[frozenset[str]] = frozenset({"cut_body"})
    content_routes: ClassVar[frozenset[str]] = BODY_ROUTES
    content_routes_named: ClassVar[str] = "file and zip routes"

    routes: frozenset[str] = ROUTE_KINDS

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
