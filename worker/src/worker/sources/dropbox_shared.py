"""What both Dropbox connectors share: how a shared link and a path below it are kept
(`LinkRef`), what Dropbox's error answers mean, and a file's media type from its name.

How the pipeline's records carry a Dropbox folder or file:
- `FolderRef.folder_id` is the import's folder id (the link's stable part, e.g.
  `scl/fo/<id>/<key>`) for the link's root, and the path below the root for a subfolder: a
  folder id that starts with `/` is such a path (`/2024/summer`).
- `FolderRef.resource_key` and `SourceFile.resource_key` are a `LinkRef`'s own part as JSON:
  for a file, its path below the root (and, for the key-less connector, the zip snapshot it was
  listed from). The link and its password are the import's (`ImportLink`), never copied into
  a folder's or file's row: the connector is bound to them (`for_link`).
"""

import json
import mimetypes
from dataclasses import dataclass, field
from typing import Any

import httpx

from domain.sources.dropbox import DropboxFolder
from worker.http_client import retry_after_seconds
from worker.sources.base import (
    FolderRef,
    ImportLink,
    PermanentSourceError,
    TransientSourceError,
)
from worker.sources.media_types import image_type_by_extension

# When Dropbox rate-limits without saying for how long: its SDKs wait 5 s (reference B6).
RATE_LIMIT_PAUSE_SECONDS = 5.0
# What a person should read for Dropbox's error tags (reference B3 to B6).
_TAG_MESSAGES = {
    "shared_link_not_found": (
        "Dropbox does not know this shared link: it may have been deleted, expired or mistyped"
    ),
    "shared_link_access_denied": (
        "Dropbox denies access to this shared link: it may need a password (send it as "
        '"password"), be limited to members of a team, or have had its access changed'
    ),
    "unsupported_link_type": "Dropbox cannot serve this kind of link here",
    "shared_link_is_directory": "the path names a folder, not a file",
    "invalid_access_token": (
        "Dropbox refused the credentials (invalid_access_token): check DROPBOX_ACCESS_TOKEN, or "
        "DROPBOX_APP_KEY and DROPBOX_APP_SECRET"
    ),
    "expired_access_token": (
        "the Dropbox access token has expired (expired_access_token): set a new "
        "DROPBOX_ACCESS_TOKEN"
    ),
    "missing_scope": (
        "the Dropbox app lacks a permission it needs (missing_scope): give it "
        "files.metadata.read and sharing.read"
    ),
    "user_suspended": "the Dropbox account of the access token is suspended",
    "route_access_denied": "the Dropbox app may not call this route (route_access_denied)",
    "not_found": "it is no longer in the shared folder (path/not_found)",
    "not_folder": "it is not a folder (path/not_folder)",
    "restricted_content": "Dropbox restricts access to it (path/restricted_content)",
}


@dataclass(frozen=True)
class LinkRef:
    """A shared link, its password if any, and a path below its root: how a Dropbox connector
    reaches a folder or a file. Only `path` and `snapshot` are stored with the folder or file
    (`encode`); the link and password come from the import."""

    url: str
    password: str | None = field(default=None, repr=False)
    path: str | None = None
    # The key-less connector's name for the copy of the folder's zip a listing came from.
    snapshot: str | None = None

    def encode(self) -> str | None:
        own = {"path": self.path, "snapshot": self.snapshot}
        present = {name: value for name, value in own.items() if value is not None}
        return json.dumps(present, ensure_ascii=False, separators=(",", ":")) if present else None

    @classmethod
    def decode(cls, link: ImportLink | None, note: str | None) -> "LinkRef":
        """The import's link with a folder's or file's own note (`encode`'s JSON)."""
        if link is None or not isinstance(link.locator, DropboxFolder):
            raise PermanentSourceError("no Dropbox shared link was recorded with this import")
        data: dict[str, Any] = {}
        text = (note or "").strip()
        if text.startswith("{"):
            try:
                data = dict(json.loads(text))
            except (ValueError, TypeError):
                raise PermanentSourceError(f"unreadable Dropbox file record: {text!r}") from None
        return cls(
            url=link.locator.url,
            password=link.password,
            path=data.get("path"),
            snapshot=data.get("snapshot"),
        )

    def child(self, path: str) -> "LinkRef":
        return LinkRef(self.url, self.password, path, self.snapshot)

    def folder(self) -> "LinkRef":
        return LinkRef(self.url, self.password, None, self.snapshot)


def folder_path(folder: FolderRef) -> str:
    """The folder's path below the link's root: `""` for the root itself."""
    return folder.folder_id if folder.folder_id.startswith("/") else ""


def guess_mime_type(name: str) -> str:
    """Dropbox gives no media types: the name's extension decides (the stored type is checked
    against the first bytes on upload)."""
    return (
        image_type_by_extension(name) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    )


class DropboxRouteError(PermanentSourceError):
    """A 409 from Dropbox, with its (innermost) tag; `reset` means a cursor went stale."""

    def __init__(self, message: str, tag: str | None) -> None:
        super().__init__(message)
        self.tag = tag


def classify_error(response: httpx.Response) -> TransientSourceError | PermanentSourceError:
    """Map a Dropbox error response to retry-later or give-up (reference B6): 429 and 5xx are
    retried (429 honouring Retry-After); 400, 401, 403 and 409 are final."""
    status = response.status_code
    body = _json_body(response)
    error = body.get("error") if isinstance(body, dict) else None
    if status == 429:
        reason = "too_many_requests"  # a plain-text 429 means this too
        retry_after = retry_after_seconds(response)
        if isinstance(error, dict):
            reason = _tag(error.get("reason")) or reason
            if retry_after is None and isinstance(error.get("retry_after"), int | float):
                retry_after = float(error["retry_after"])
        wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        return TransientSourceError(
            f"Dropbox is rate limiting ({reason}){wait}", retry_after=retry_after, rate_limited=True
        )
    if status >= 500:
        return TransientSourceError(
            f"Dropbox answered HTTP {status} {response.reason_phrase}".rstrip(),
            retry_after=retry_after_seconds(response),
        )
    if status in (401, 409) and isinstance(error, dict):
        tags = _tags(error)
        tag = tags[-1] if tags else None
        message = next(
            (_TAG_MESSAGES[t] for t in reversed(tags) if t in _TAG_MESSAGES),
            f"Dropbox answered HTTP {status}: {'/'.join(tags) or response.text[:200]}",
        )
        if status == 401:
            return PermanentSourceError(message)
        return DropboxRouteError(message, tag)
    text = response.text[:300].strip() or response.reason_phrase
    if status == 401:
        return PermanentSourceError(f"{_TAG_MESSAGES['invalid_access_token']}: {text}")
    return PermanentSourceError(f"Dropbox refused the request (HTTP {status}): {text}")


def _json_body(response: httpx.Response) -> Any:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _tag(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get(".tag"), str):
        return str(value[".tag"])
    return None


def _tags(error: dict[str, Any]) -> list[str]:
    """The chain of tags of a (nested) Dropbox union, outermost first: path/not_found."""
    tags: list[str] = []
    current: Any = error
    while isinstance(current, dict) and isinstance(current.get(".tag"), str):
        tag = str(current[".tag"])
        tags.append(tag)
        current = current.get(tag)
    return tags
