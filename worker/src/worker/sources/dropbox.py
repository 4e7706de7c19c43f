"""Dropbox API v2, read-only, for folders shared by link ("anyone with the link").

Calls `{DROPBOX_API_URL}/2/sharing/get_shared_link_metadata` to check the link,
`/2/files/list_folder` (+ `/continue`) with `shared_link` to list one folder level at a time (a
shared link cannot be listed recursively), and
`{DROPBOX_CONTENT_URL}/2/sharing/get_shared_link_file` to stream a file. Authorised by a
user's token (Bearer) or an app's key and secret (HTTP Basic): the shared-link routes accept
either.

How the pipeline's records carry a Dropbox folder or file (the encoding both Dropbox connectors
share, see `LinkRef`):
- `FolderRef.folder_id` is the import's folder id (the link's stable part, e.g.
  `scl/fo/<id>/<key>`) for the link's root, and the path below the root for a subfolder: a
  folder id that starts with `/` is such a path (`/2024/summer`).
- `FolderRef.resource_key` and `SourceFile.resource_key` are a `LinkRef`'s own part as JSON:
  for a file, its path below the root (and, for the key-less connector, the zip snapshot it was
  listed from). The link and its password are the import's (`ImportLink`), never copied into
  a folder's or file's row: the connector is bound to them (`for_link`).
- `SourceFile.file_id` is Dropbox's file id (`id:…`); its checksum is Dropbox's `content_hash`
  (`dropbox_content_hash`, see `dropbox_hash`), which every transfer is checked against and
  which a re-import compares to find unchanged files.
"""

import copy
import json
import mimetypes
from base64 import b64encode
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from worker.sources.base import (
    FolderPage,
    FolderRef,
    FolderUnavailable,
    ImportLink,
    Pacer,
    PermanentSourceError,
    SourceError,
    SourceFile,
    TransientSourceError,
)
from worker.sources.checksums import normalized
from worker.sources.dropbox_hash import DROPBOX_CONTENT_HASH
from worker.sources.http import (
    hold_off_if_rate_limited,
    json_body,
    open_download,
    retry_after_seconds,
    send_paced,
)
from worker.sources.media_types import image_type_by_extension
from worker.sources.specs.dropbox import DropboxFolder

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


def authorization_header(
    access_token: str | None, app_key: str | None, app_secret: str | None
) -> str | None:
    """Bearer for a user's token (preferred, as Dropbox's SDKs do), Basic for an app's key and
    secret, None without credentials."""
    if access_token:
        return f"Bearer {access_token}"
    if app_key and app_secret:
        return "Basic " + b64encode(f"{app_key}:{app_secret}".encode()).decode()
    return None


def header_safe_json(value: Any) -> str:
    """JSON for the `Dropbox-API-Arg` header: every non-ASCII character and DEL escaped as
    \\uXXXX, as Dropbox requires of header values (reference B2)."""
    return json.dumps(value, ensure_ascii=True).replace("\x7f", "\\u007f")


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


class DropboxConnector:
    """A `SourceConnector` for Dropbox shared folders through the documented API."""

    notes: str | None = None

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        content_url: str,
        authorization: str,
        page_size: int,
        pacer: Pacer,
    ) -> None:
        self._http = http
        self._api_url = api_url.rstrip("/")
        self._content_url = content_url.rstrip("/")
        self._authorization = authorization
        self._page_size = min(page_size, 2000)
        self._pacer = pacer
        self._link: ImportLink | None = None

    def for_link(self, link: ImportLink) -> "DropboxConnector":
        bound = copy.copy(self)
        bound._link = link
        return bound

    async def check_folder(self, folder: FolderRef) -> None:
        link = LinkRef.decode(self._link, folder.resource_key)
        arg: dict[str, Any] = {"url": link.url}
        if link.password:
            arg["link_password"] = link.password
        try:
            meta = await self._rpc("sharing/get_shared_link_metadata", arg)
        except PermanentSourceError as exc:
            raise FolderUnavailable(f"the Dropbox folder cannot be read: {exc}") from exc
        if meta.get(".tag") != "folder":
            raise FolderUnavailable(
                "the link points to a single file, not a folder: share the folder and paste "
                "its link"
            )
        permissions = meta.get("link_permissions") or {}
        if permissions.get("allow_download") is False:
            raise FolderUnavailable("the owner of this Dropbox link has turned off downloads")

    async def list_page(self, folder: FolderRef, page_token: str | None) -> FolderPage:
        link = LinkRef.decode(self._link, folder.resource_key)
        path = folder_path(folder)
        if page_token:
            try:
                body = await self._rpc("files/list_folder/continue", {"cursor": page_token})
            except DropboxRouteError as exc:
                if exc.tag != "reset":
                    raise
                # The cursor went stale: list the folder again from the start. Files already
                # recorded by this import are recognised and not counted twice.
                body = await self._list_folder(link, path)
        else:
            body = await self._list_folder(link, path)
        has_more = bool(body.get("has_more"))
        cursor = body.get("cursor") or None
        if has_more and not cursor:
            raise TransientSourceError("Dropbox said there is more to list but gave no cursor")
        page = FolderPage(next_page_token=cursor if has_more else None)
        entries: list[dict[str, Any]] = body.get("entries") or []
        for entry in entries:
            tag, name = entry.get(".tag"), entry.get("name")
            if not isinstance(name, str) or not name or "/" in name:
                continue
            child_path = f"{path}/{name}"
            if tag == "folder":
                page.folders.append(FolderRef(child_path, link.folder().encode()))
            elif tag == "file" and entry.get("id"):
                page.files.append(_to_source_file(entry, link.child(child_path)))
            # `deleted` entries (and tags added later) are not files.
        return page

    async def _list_folder(self, link: LinkRef, path: str) -> dict[str, Any]:
        shared_link: dict[str, str] = {"url": link.url}
        if link.password:
            shared_link["password"] = link.password
        return await self._rpc(
            "files/list_folder",
            {
                "path": path,
                "shared_link": shared_link,
                "limit": self._page_size,
                "include_non_downloadable_files": True,
            },
        )

    @asynccontextmanager
    async def open_file(self, file: SourceFile) -> AsyncIterator[AsyncIterator[bytes]]:
        link = LinkRef.decode(self._link, file.resource_key)
        if not link.path:
            raise PermanentSourceError("no path below the shared link was recorded for this file")
        arg: dict[str, Any] = {"url": link.url, "path": link.path}
        if link.password:
            arg["link_password"] = link.password
        request = self._http.build_request(
            "POST",
            f"{self._content_url}/2/sharing/get_shared_link_file",
            headers={
                "Authorization": self._authorization,
                "Dropbox-API-Arg": header_safe_json(arg),
            },
        )
        async with open_download(
            self._http,
            request,
            self._pacer,
            no_answer="Dropbox did not answer",
            failure=self._failure,
        ) as chunks:
            yield chunks

    async def _rpc(self, route: str, arg: dict[str, Any]) -> dict[str, Any]:
        request = self._http.build_request(
            "POST",
            f"{self._api_url}/2/{route}",
            content=json.dumps(arg).encode(),
            headers={"Authorization": self._authorization, "Content-Type": "application/json"},
        )
        response = await send_paced(
            self._http, request, self._pacer, no_answer="Dropbox did not answer"
        )
        if response.status_code != 200:
            raise await self._failure(response)
        body = json_body(response, "Dropbox")
        if not isinstance(body, dict):
            raise TransientSourceError("Dropbox sent JSON that is not an object")
        return body

    async def _failure(self, response: httpx.Response) -> SourceError:
        error = classify_error(response)
        # Dropbox limits per token (or app): everyone using it waits, not just this job.
        await hold_off_if_rate_limited(self._pacer, error, RATE_LIMIT_PAUSE_SECONDS)
        return error


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


def _to_source_file(entry: dict[str, Any], link: LinkRef) -> SourceFile:
    name = str(entry["name"])
    size = entry.get("size")
    downloadable = entry.get("is_downloadable", True) is not False
    return SourceFile(
        file_id=str(entry["id"]),
        name=name,
        mime_type=guess_mime_type(name),
        size=int(size) if isinstance(size, int) else None,
        checksums=normalized({DROPBOX_CONTENT_HASH: entry.get("content_hash")})
        if downloadable
        else {},
        resource_key=link.encode(),
        not_downloadable=None
        if downloadable
        else "a Dropbox cloud document (not downloadable as a file)",
    )
