"""Google Drive API v3, read-only, for folders shared with "anyone with the link".

Calls `{GOOGLE_DRIVE_API_URL}/drive/v3/files...` with an API key. Every call names the fields
it needs (Drive returns only what is asked for), and includes shared-drive items.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from domain.sources.google_drive import GoogleDriveSettings
from domain.sources.records import MD5, SHA256, normalized_checksums
from worker.http_client import retry_after_seconds
from worker.sources.base import (
    ConnectorDeps,
    FolderPage,
    FolderRef,
    FolderUnavailable,
    ImportLink,
    Pacer,
    PermanentSourceError,
    SourceConnector,
    SourceError,
    SourceFile,
    SourceQuotaExceeded,
    TransientSourceError,
)
from worker.sources.http import (
    hold_off_if_rate_limited,
    json_body,
    open_download,
    send_paced,
)

FOLDER_MIME_TYPE = "application/vnd.google-apps.folder"
SHORTCUT_MIME_TYPE = "application/vnd.google-apps.shortcut"
GOOGLE_NATIVE_PREFIX = "application/vnd.google-apps."

# sha256Checksum: a file whose bytes the catalogue holds already is recognised without a
# download (domain/contents/repository.py); MD5 alone is not trusted for that.
_FILE_FIELDS = "id,name,mimeType,size,md5Checksum,sha256Checksum,resourceKey,shortcutDetails"
_LIST_FIELDS = f"nextPageToken,incompleteSearch,files({_FILE_FIELDS})"
_FOLDER_FIELDS = "id,name,mimeType,resourceKey,trashed"
_TARGET_FIELDS = "id,name,mimeType,size,md5Checksum,sha256Checksum,resourceKey,trashed"
_RATE_LIMIT_REASONS = {"userRateLimitExceeded", "rateLimitExceeded"}
_ALL_DRIVES = {"supportsAllDrives": "true"}


class GoogleDriveConnector:
    notes: str | None = None

    def for_link(self, link: ImportLink) -> "GoogleDriveConnector":
        # Every folder and file is reached by its id and resource key alone.
        return self

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        api_key: str | None,
        page_size: int,
        pacer: Pacer,
    ) -> None:
        self._http = http
        self._files_url = f"{api_url.rstrip('/')}/drive/v3/files"
        self._api_key = api_key
        self._page_size = page_size
        self._pacer = pacer

    async def check_folder(self, folder: FolderRef) -> str | None:
        # Listing the children of a folder we cannot see answers 200 with no files, so ask for
        # the folder itself first: that gives a clean 404.
        try:
            meta = await self._get_json(
                f"{self._files_url}/{folder.folder_id}",
                {"fields": _FOLDER_FIELDS, **_ALL_DRIVES},
                resource_keys=[folder],
            )
        except PermanentSourceError as exc:
            raise FolderUnavailable(
                f"the Google Drive folder {folder.folder_id} was not found or is not shared "
                f"publicly (share it as 'Anyone with the link'): {exc}"
            ) from exc
        if meta.get("mimeType") != FOLDER_MIME_TYPE:
            raise FolderUnavailable(
                f"the link points to a file ({meta.get('mimeType')}), not a folder"
            )
        if meta.get("trashed"):
            raise FolderUnavailable("the folder is in the owner's trash")
        return str(meta["name"]) if meta.get("name") else None

    async def list_page(self, folder: FolderRef, page_token: str | None) -> FolderPage:
        params = {
            "q": f"'{_escape(folder.folder_id)}' in parents and trashed = false",
            "fields": _LIST_FIELDS,
            "pageSize": str(self._page_size),
            "includeItemsFromAllDrives": "true",
            **_ALL_DRIVES,
        }
        if page_token:
            params["pageToken"] = page_token
        body = await self._get_json(self._files_url, params, resource_keys=[folder])
        page = FolderPage(next_page_token=body.get("nextPageToken") or None)
        items: list[dict[str, Any]] = body.get("files", [])
        shortcuts = [item for item in items if item.get("mimeType") == SHORTCUT_MIME_TYPE]
        targets = await asyncio.gather(*(self._shortcut_target(item) for item in shortcuts))
        resolved = {item["id"]: target for item, target in zip(shortcuts, targets, strict=True)}
        for item in items:
            if item["id"] in resolved:
                _add_shortcut(page, item, resolved[item["id"]])
            elif item.get("mimeType") == FOLDER_MIME_TYPE:
                page.folders.append(
                    FolderRef(item["id"], item.get("resourceKey"), item.get("name"))
                )
            else:
                page.files.append(_to_source_file(item))
        return page

    async def _shortcut_target(self, shortcut: dict[str, Any]) -> dict[str, Any] | None:
        """The target's metadata, or None when the shortcut dangles. The listing's
        `targetMimeType` is a snapshot from when the shortcut was made, so ask for the target."""
        details = shortcut.get("shortcutDetails") or {}
        target_id = details.get("targetId")
        if not target_id:
            return None
        try:
            target = await self._get_json(
                f"{self._files_url}/{target_id}",
                {"fields": _TARGET_FIELDS, **_ALL_DRIVES},
                resource_keys=[FolderRef(target_id, details.get("targetResourceKey"))],
            )
        except PermanentSourceError:
            return None
        return None if target.get("trashed") else target

    @asynccontextmanager
    async def open_file(self, file: SourceFile) -> AsyncIterator[AsyncIterator[bytes]]:
        request = self._http.build_request(
            "GET",
            f"{self._files_url}/{file.file_id}",
            params=self._with_key({"alt": "media", **_ALL_DRIVES}),
            headers=_resource_key_header([FolderRef(file.file_id, file.resource_key)]),
        )
        async with open_download(
            self._http, request, self._pacer, no_answer="download failed", failure=self._failure
        ) as chunks:
            yield chunks

    async def _get_json(
        self, url: str, params: dict[str, str], *, resource_keys: Iterable[FolderRef]
    ) -> dict[str, Any]:
        request = self._http.build_request(
            "GET", url, params=self._with_key(params), headers=_resource_key_header(resource_keys)
        )
        response = await send_paced(
            self._http, request, self._pacer, no_answer="Google Drive did not answer"
        )
        if response.status_code != 200:
            raise await self._failure(response)
        body: dict[str, Any] = json_body(response, "Google Drive")
        return body

    async def _failure(self, response: httpx.Response) -> SourceError:
        error = classify_error(response)
        # Google asked everyone using this key to slow down, not just this job.
        await hold_off_if_rate_limited(self._pacer, error)
        return error

    def _with_key(self, params: dict[str, str]) -> dict[str, str]:
        return {**params, "key": self._api_key} if self._api_key else params


def classify_error(response: httpx.Response) -> SourceError:
    """Map a Drive error response to retry-later or give-up, following Google's guidance:
    rate limits and 5xx are retried with backoff, a file over its download quota waits for it;
    everything else is final."""
    status = response.status_code
    reason, message = _error_reason(response)
    described = f"HTTP {status} {reason or ''}: {message}".replace("  ", " ")
    retry_after = retry_after_seconds(response)
    if status == 429 or reason in _RATE_LIMIT_REASONS:
        return TransientSourceError(described, retry_after=retry_after, rate_limited=True)
    if status >= 500:
        return TransientSourceError(described, retry_after=retry_after)
    if reason == "downloadQuotaExceeded":
        return SourceQuotaExceeded(described)
    return PermanentSourceError(described)


def _add_shortcut(
    page: FolderPage, shortcut: dict[str, Any], target: dict[str, Any] | None
) -> None:
    """A shortcut to a folder is descended into (the pipeline lists each folder once per import,
    so a loop ends); a shortcut to a file imports the target's bytes under the shortcut's name."""
    if target is None:
        target_id = (shortcut.get("shortcutDetails") or {}).get("targetId")
        page.files.append(
            SourceFile(
                file_id=shortcut["id"],
                name=shortcut.get("name", ""),
                mime_type=SHORTCUT_MIME_TYPE,
                not_downloadable=f"dangling shortcut: its target {target_id} is gone or not shared",
            )
        )
    elif target.get("mimeType") == FOLDER_MIME_TYPE:
        page.folders.append(FolderRef(target["id"], target.get("resourceKey"), target.get("name")))
    elif target.get("mimeType") == SHORTCUT_MIME_TYPE:
        page.files.append(
            SourceFile(
                file_id=shortcut["id"],
                name=shortcut.get("name", ""),
                mime_type=SHORTCUT_MIME_TYPE,
                not_downloadable="shortcut to another shortcut: not followed",
            )
        )
    else:
        page.files.append(_to_source_file({**target, "name": shortcut.get("name", "")}))


def _to_source_file(item: dict[str, Any]) -> SourceFile:
    size = item.get("size")
    mime_type = item.get("mimeType", "application/octet-stream")
    return SourceFile(
        file_id=item["id"],
        name=item.get("name", ""),
        mime_type=mime_type,
        size=int(size) if size is not None else None,
        checksums=normalized_checksums(
            {MD5: item.get("md5Checksum"), SHA256: item.get("sha256Checksum")}
        ),
        resource_key=item.get("resourceKey"),
        not_downloadable=_why_not_downloadable(mime_type),
    )


def _why_not_downloadable(mime_type: str) -> str | None:
    if mime_type == SHORTCUT_MIME_TYPE:
        return "shortcut without a target"
    if mime_type.startswith(GOOGLE_NATIVE_PREFIX):
        return f"Google-native file ({mime_type}) has no downloadable bytes"
    return None


def _error_reason(response: httpx.Response) -> tuple[str | None, str]:
    try:
        error = response.json().get("error", {})
    except (json.JSONDecodeError, AttributeError):
        return None, response.text[:200] or response.reason_phrase
    if not isinstance(error, dict):
        return None, str(error)[:200]
    errors = error.get("errors") or [{}]
    reason = errors[0].get("reason") if isinstance(errors[0], dict) else None
    return reason or error.get("status"), str(error.get("message", ""))[:300]


def _resource_key_header(refs: Iterable[FolderRef]) -> dict[str, str]:
    pairs = [f"{ref.folder_id}/{ref.resource_key}" for ref in refs if ref.resource_key]
    return {"X-Goog-Drive-Resource-Keys": ",".join(pairs)} if pairs else {}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def build_connector(settings: GoogleDriveSettings, deps: ConnectorDeps) -> SourceConnector:
    # Either way the images are the same Drive files, stored under one source.
    if settings.api_key:
        return GoogleDriveConnector(
            deps.http,
            api_url=settings.drive_api_url,
            api_key=settings.api_key,
            page_size=deps.page_size,
            pacer=deps.pacer("google_drive", settings.api_key),
        )
    # Imported here: the web connector reads this module's constants.
    from worker.sources.google_drive_web import GoogleDriveWebConnector

    return GoogleDriveWebConnector(
        deps.http,
        web_url=settings.drive_web_url,
        download_url=settings.drive_download_url,
        pacer=deps.pacer("google_drive_web", None),
    )
