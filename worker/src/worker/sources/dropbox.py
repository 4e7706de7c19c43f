"""Dropbox API v2, read-only, for folders shared by link ("anyone with the link").

Calls `{DROPBOX_API_URL}/2/sharing/get_shared_link_metadata` to check the link,
`/2/files/list_folder` (+ `/continue`) with `shared_link` to list one folder level at a time (a
shared link cannot be listed recursively), and
`{DROPBOX_CONTENT_URL}/2/sharing/get_shared_link_file` to stream a file. Authorised by a
user's token (Bearer) or an app's key and secret (HTTP Basic): the shared-link routes accept
either.

A folder or file is carried as `dropbox_shared` describes; `SourceFile.file_id` is Dropbox's
file id (`id:…`) and its checksum Dropbox's `content_hash` (`dropbox_content_hash`, see
`dropbox_hash`), which every transfer is checked against and a re-import compares.
"""

import json
from base64 import b64encode
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from domain.sources.dropbox import DropboxSettings
from domain.sources.records import normalized_checksums
from worker.sources.base import (
    BoundToLink,
    ConnectorDeps,
    FolderPage,
    FolderRef,
    FolderUnavailable,
    Pacer,
    PermanentSourceError,
    SourceConnector,
    SourceError,
    SourceFile,
    TransientSourceError,
)
from worker.sources.dropbox_hash import DROPBOX_CONTENT_HASH
from worker.sources.dropbox_shared import (
    RATE_LIMIT_PAUSE_SECONDS,
    DropboxRouteError,
    LinkRef,
    classify_error,
    folder_path,
    guess_mime_type,
)
from worker.sources.dropbox_zip import DropboxZipConnector
from worker.sources.http import (
    hold_off_if_rate_limited,
    json_body,
    open_download,
    send_paced,
)


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


class DropboxConnector(BoundToLink):
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

    async def check_folder(self, folder: FolderRef) -> str | None:
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
        return str(meta["name"]) if meta.get("name") else None

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
                page.folders.append(FolderRef(child_path, link.folder().encode(), name))
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


def _to_source_file(entry: dict[str, Any], link: LinkRef) -> SourceFile:
    name = str(entry["name"])
    size = entry.get("size")
    downloadable = entry.get("is_downloadable", True) is not False
    return SourceFile(
        file_id=str(entry["id"]),
        name=name,
        mime_type=guess_mime_type(name),
        size=int(size) if isinstance(size, int) else None,
        checksums=normalized_checksums({DROPBOX_CONTENT_HASH: entry.get("content_hash")})
        if downloadable
        else {},
        resource_key=link.encode(),
        version=entry.get("rev") if isinstance(entry.get("rev"), str) else None,
        not_downloadable=None
        if downloadable
        else "a Dropbox cloud document (not downloadable as a file)",
    )


def build_connector(settings: DropboxSettings, deps: ConnectorDeps) -> SourceConnector:
    # Either way the images are stored under one source.
    authorization = authorization_header(
        settings.access_token, settings.app_key, settings.app_secret
    )
    if authorization:
        return DropboxConnector(
            deps.http,
            api_url=settings.api_url,
            content_url=settings.content_url,
            authorization=authorization,
            page_size=deps.page_size,
            pacer=deps.pacer("dropbox", authorization),
        )
    return DropboxZipConnector(
        deps.http,
        web_url=settings.web_url,
        zip_dir=settings.zip_dir,
        page_size=deps.page_size,
        pacer=deps.pacer("dropbox_web", None),
    )
