"""Google's JSON error bodies, one constructor per situation the emulator reproduces.

Shapes follow what Drive actually returns: classic errors carry `errors[]` and no `status`; errors
produced by Google's API front end (key checks, quota) also carry `status` and sometimes `details`.
Refusals that ask the caller to come back later say so in `answer` (`rate_limited`,
`quota_refused`), which the emulator counts beside what it served.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_UNREGISTERED = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
_KEY_INVALID = "API key not valid. Please pass a valid API key."
_NOT_DOWNLOADABLE = (
    "Only files with binary content can be downloaded. Use Export with Docs Editors files."
)
_ABUSIVE = "This file has been identified as malware or spam and cannot be downloaded."
_QUOTA = "The download quota for this file has been exceeded."
_PROJECT = "123456789012"

RATE_LIMITED = "rate_limited"
QUOTA_REFUSED = "quota_refused"


@dataclass
class DriveError(Exception):
    """An error response: HTTP status, Google's error body, and any extra headers."""

    code: int
    message: str
    reason: str
    domain: str = "global"
    location: str | None = None
    location_type: str | None = "parameter"
    status: str | None = None
    details: list[dict[str, Any]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Not part of the body: how the emulator counts this answer (None: not a quota's refusal).
    answer: str | None = None

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "domain": self.domain,
            "reason": self.reason,
            "message": self.message,
        }
        if self.location is not None:
            item["locationType"] = self.location_type
            item["location"] = self.location
        error: dict[str, Any] = {"code": self.code, "message": self.message, "errors": [item]}
        if self.status is not None:
            error["status"] = self.status
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


def not_found(file_id: str) -> DriveError:
    message = f"File not found: {file_id}."
    return DriveError(404, message, "notFound", location="fileId")


def invalid_value(location: str, message: str = "Invalid Value") -> DriveError:
    return DriveError(400, message, "invalid", location=location)


def invalid_field_selection(selection: str) -> DriveError:
    # Google answers a bad mask with reason invalidParameter (not invalid), seen in client reports.
    return DriveError(
        400, f"Invalid field selection {selection}", "invalidParameter", location="fields"
    )


def missing_api_key() -> DriveError:
    return DriveError(403, _UNREGISTERED, "forbidden", status="PERMISSION_DENIED")


def invalid_api_key() -> DriveError:
    return DriveError(
        400,
        _KEY_INVALID,
        "badRequest",
        status="INVALID_ARGUMENT",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "drive.googleapis.com"},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": _KEY_INVALID,
            },
        ],
    )


def access_not_configured() -> DriveError:
    message = (
        f"Google Drive API has not been used in project {_PROJECT} before or it is disabled. "
        "Enable it by visiting https://console.developers.google.com/apis/api/"
        f"drive.googleapis.com/overview?project={_PROJECT} then retry. If you enabled this API "
        "recently, wait a few minutes for the action to propagate to our systems and retry."
    )
    return DriveError(
        403,
        message,
        "accessNotConfigured",
        domain="usageLimits",
        status="PERMISSION_DENIED",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "SERVICE_DISABLED",
                "domain": "googleapis.com",
                "metadata": {"service": "drive.googleapis.com", "consumer": f"projects/{_PROJECT}"},
            }
        ],
    )


def file_not_downloadable() -> DriveError:
    return DriveError(403, _NOT_DOWNLOADABLE, "fileNotDownloadable", location="alt")


def abusive_file() -> DriveError:
    return DriveError(403, _ABUSIVE, "cannotDownloadAbusiveFile")


def download_quota_exceeded() -> DriveError:
    return DriveError(403, _QUOTA, "downloadQuotaExceeded", answer=QUOTA_REFUSED)


def user_rate_limit_exceeded() -> DriveError:
    return DriveError(
        403,
        "User Rate Limit Exceeded",
        "userRateLimitExceeded",
        "usageLimits",
        answer=RATE_LIMITED,
    )


def rate_limit_exceeded() -> DriveError:
    return DriveError(
        403, "Rate Limit Exceeded", "rateLimitExceeded", "usageLimits", answer=RATE_LIMITED
    )


def too_many_requests(retry_after: int | None) -> DriveError:
    """429; Google documents no Retry-After on it, so a quota's 429 has none (`None`), while
    the fault of that name can send one."""
    headers = {} if retry_after is None else {"retry-after": str(retry_after)}
    return DriveError(
        429,
        "Rate Limit Exceeded",
        "rateLimitExceeded",
        "usageLimits",
        status="RESOURCE_EXHAUSTED",
        headers=headers,
        answer=RATE_LIMITED,
    )


def backend_error() -> DriveError:
    return DriveError(500, "Backend Error", "backendError")


def service_unavailable(retry_after: int | None) -> DriveError:
    headers = {} if retry_after is None else {"retry-after": str(retry_after)}
    return DriveError(
        503,
        "The service is currently unavailable.",
        "backendError",
        status="UNAVAILABLE",
        headers=headers,
    )


def range_not_satisfiable(total: int) -> DriveError:
    return DriveError(
        416,
        "Request range not satisfiable",
        "requestedRangeNotSatisfiable",
        location="Range",
        location_type="header",
        headers={"content-range": f"bytes */{total}"},
    )


def method_not_allowed() -> DriveError:
    return DriveError(405, "Method Not Allowed", "httpMethodNotAllowed", location=None)
