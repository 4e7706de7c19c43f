"""Dropbox's error responses (reference notes B6), one constructor per situation.

Route errors are 409 with `{"error_summary": "<tag>/...", "error": {".tag": ...}}`; bad input is
400 with a plain-text body; auth errors are 401 JSON; rate limits are 429 with `Retry-After`,
as JSON or as plain text. A 429 says so in `answer` (`rate_limited`), which the emulator counts
beside what it served.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = b"application/json"
TEXT_TYPE = b"text/plain; charset=utf-8"
RATE_LIMITED = "rate_limited"


@dataclass
class DropboxError(Exception):
    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)
    # Not part of the body: how the emulator counts this answer (None: not a rate limit's).
    answer: str | None = None

    @property
    def content_type(self) -> bytes:
        return TEXT_TYPE if isinstance(self.body, str) else JSON_TYPE


def _summary(*tags: str) -> str:
    # Dropbox joins the tags with "/" and ends with a varying suffix; clients must not parse it.
    return "/".join(tags) + "/" + "." * min(len(tags), 3)


def bad_input(route: str, message: str) -> DropboxError:
    return DropboxError(400, f'Error in call to API function "{route}": {message}')


def route_error(tag: str, *, user_message: str | None = None) -> DropboxError:
    """409 with a flat tag, e.g. `shared_link_not_found`."""
    body: dict[str, Any] = {"error_summary": _summary(tag), "error": {".tag": tag}}
    if user_message is not None:
        body["user_message"] = {"text": user_message, "locale": "en"}
    return DropboxError(409, body)


def path_error(lookup: str) -> DropboxError:
    """409 `path/<lookup>` (LookupError nested in ListFolderError)."""
    return DropboxError(
        409,
        {
            "error_summary": _summary("path", lookup),
            "error": {".tag": "path", "path": {".tag": lookup}},
        },
    )


def invalid_access_token() -> DropboxError:
    return DropboxError(
        401,
        {
            "error_summary": _summary("invalid_access_token"),
            "error": {".tag": "invalid_access_token"},
        },
    )


def missing_authorization(route: str) -> DropboxError:
    return bad_input(
        route,
        'Must provide HTTP header "Authorization" or URL parameter "authorization".',
    )


def too_many_requests(retry_after: int, reason: str = "too_many_requests") -> DropboxError:
    """429 with `auth.RateLimitError`: `reason` is `too_many_requests` (a rate limit) or
    `too_many_write_operations` (namespace lock contention)."""
    return DropboxError(
        429,
        {
            "error_summary": _summary(reason),
            "error": {"reason": {".tag": reason}, "retry_after": retry_after},
        },
        {"retry-after": str(retry_after)},
        answer=RATE_LIMITED,
    )


def too_many_requests_text(retry_after: int) -> DropboxError:
    return DropboxError(
        429, "Too Many Requests", {"retry-after": str(retry_after)}, answer=RATE_LIMITED
    )


def internal_error() -> DropboxError:
    return DropboxError(500, "Internal Server Error")


def service_unavailable(retry_after: int) -> DropboxError:
    return DropboxError(503, "Service Unavailable", {"retry-after": str(retry_after)})
