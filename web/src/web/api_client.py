"""The web service's only way to the data: the API, over HTTP. One method per call the pages
make; what an answer means (a schema, `ApiError`, `ApiUnavailable`) is `api_errors.py`, whose
two errors are named here too, so that a page imports its client and its errors from one place.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

# Named here as well: the pages import their client and its two errors from this one module.
from web.api_errors import ApiError as ApiError
from web.api_errors import ApiUnavailable as ApiUnavailable
from web.api_errors import decode_answer, refusal
from web.schemas import (
    AlbumDetail,
    AlbumPage,
    ArchiveLink,
    CancelStarted,
    DetectedLink,
    FailedFilePage,
    Image,
    ImagePage,
    Import,
    ImportPage,
    ImportStarted,
    RetryStarted,
    SourceList,
    Sync,
    SyncPage,
    SyncRunStarted,
    ThumbnailProgress,
)

T = TypeVar("T")

TIMEOUT_SECONDS = 10.0
# An archive's first byte waits for the API to check every object it holds (and, once, to read
# the CRC-32 of images stored before they were recorded); then each read waits for S3.
ARCHIVE_TIMEOUT = httpx.Timeout(TIMEOUT_SECONDS, read=300.0)
# What the browser's request for an archive and the API's answer pass on to each other.
ARCHIVE_REQUEST_HEADERS = ("range", "if-range")
ARCHIVE_ANSWER_HEADERS = (
    "content-length",
    "content-range",
    "accept-ranges",
    "etag",
    "content-disposition",
    "content-type",
    "cache-control",
)


class ApiClient:
    """One client per process over one connection pool; `for_visitor` gives each request a view
    of it that names the browser the request came from."""

    def __init__(
        self, http: httpx.AsyncClient, *, token: str | None = None, visitor: str | None = None
    ) -> None:
        self._http = http
        self._token = token
        self._headers: dict[str, str] = {}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        if visitor:
            # The API limits start requests per client address: it takes this one when it
            # trusts this service as a proxy (its TRUSTED_PROXIES), else it sees this service's.
            self._headers["X-Forwarded-For"] = visitor

    def for_visitor(self, address: str | None) -> "ApiClient":
        return ApiClient(self._http, token=self._token, visitor=address)

    def for_operator(self, ops_token: str, operator: str) -> "ApiClient":
        """A view that calls the API's /ops routes with OPS_TOKEN, naming the signed-in
        operator (X-Operator), whom the API logs with every change."""
        client = ApiClient(self._http, token=ops_token)
        if visitor := self._headers.get("X-Forwarded-For"):
            client._headers["X-Forwarded-For"] = visitor
        client._headers["X-Operator"] = operator
        return client

    async def operate(self, method: str, path: str, shape: type[T], **kwargs: Any) -> T:
        """One call to the API's /ops routes (on a client from `for_operator`)."""
        return await self._call(method, path, shape, **kwargs)

    async def start_import(
        self,
        url: str,
        recursive: bool,
        password: str | None = None,
        *,
        notify_url: str | None = None,
    ) -> ImportStarted:
        """The API decides the source from the link, and says what is wrong with it."""
        body = {"url": url, "recursive": recursive, **_given(password, notify_url)}
        response = await self._send("POST", "/imports", json=body)
        started = decode_answer(response, ImportStarted)
        started.already_live = response.status_code == 200
        return started

    async def create_sync(
        self,
        url: str,
        *,
        every: str,
        recursive: bool,
        on_removed: str,
        password: str | None = None,
        notify_url: str | None = None,
    ) -> Sync:
        """A sync of the folder, whose first run the API starts now."""
        body = {
            "url": url,
            "every": every,
            "recursive": recursive,
            "on_removed": on_removed,
            **_given(password, notify_url),
        }
        return await self._call("POST", "/syncs", Sync, json=body)

    async def list_syncs(self, *, limit: int, cursor: str | None = None) -> SyncPage:
        return await self._call("GET", "/syncs", SyncPage, params=_params(limit, cursor))

    async def get_sync(self, sync_id: str) -> Sync:
        return await self._call("GET", f"/syncs/{_segment(sync_id)}", Sync)

    async def change_sync(self, sync_id: str, **changes: Any) -> Sync:
        """PATCH: only the fields given change."""
        return await self._call("PATCH", f"/syncs/{_segment(sync_id)}", Sync, json=changes)

    async def run_sync(self, sync_id: str) -> SyncRunStarted:
        return await self._call("POST", f"/syncs/{_segment(sync_id)}/run", SyncRunStarted)

    async def delete_sync(self, sync_id: str) -> None:
        await self._send("DELETE", f"/syncs/{_segment(sync_id)}")

    async def list_sources(self) -> SourceList:
        return await self._call("GET", "/sources", SourceList)

    async def detect_source(self, url: str) -> DetectedLink:
        return await self._call("GET", "/sources/detect", DetectedLink, params={"url": url})

    async def list_imports(self, *, limit: int, cursor: str | None = None) -> ImportPage:
        params = _params(limit, cursor)
        return await self._call("GET", "/imports", ImportPage, params=params)

    async def get_import(self, import_id: str) -> Import:
        return await self._call("GET", f"/imports/{_segment(import_id)}", Import)

    async def list_failures(
        self, import_id: str, *, limit: int, cursor: str | None = None
    ) -> FailedFilePage:
        path = f"/imports/{_segment(import_id)}/failures"
        return await self._call("GET", path, FailedFilePage, params=_params(limit, cursor))

    async def retry_failures(self, import_id: str) -> RetryStarted:
        return await self._call("POST", f"/imports/{_segment(import_id)}/retry", RetryStarted)

    async def cancel_import(self, import_id: str) -> CancelStarted:
        return await self._call("POST", f"/imports/{_segment(import_id)}/cancel", CancelStarted)

    async def list_images(
        self, filters: dict[str, str], *, limit: int, cursor: str | None = None
    ) -> ImagePage:
        params = {**filters, **_params(limit, cursor)}
        return await self._call("GET", "/images", ImagePage, params=params)

    async def list_albums(
        self, filters: dict[str, str], *, limit: int, cursor: str | None = None
    ) -> AlbumPage:
        params = {**filters, **_params(limit, cursor)}
        return await self._call("GET", "/albums", AlbumPage, params=params)

    async def get_album(
        self, album_id: str, *, limit: int, cursor: str | None = None
    ) -> AlbumDetail:
        path = f"/albums/{_segment(album_id)}"
        return await self._call("GET", path, AlbumDetail, params=_params(limit, cursor))

    async def get_image(self, image_id: str) -> Image:
        return await self._call("GET", f"/images/{_segment(image_id)}", Image)

    async def thumbnail_progress(self, import_id: str) -> ThumbnailProgress | None:
        """How far the thumbnails of an import's images are; None from an API without them."""
        try:
            return await self._call(
                "GET", f"/imports/{_segment(import_id)}/thumbnails", ThumbnailProgress
            )
        except ApiError as exc:
            if exc.status_code == 404:
                return None
            raise

    async def image_content_url(self, image_id: str) -> str:
        """A fresh presigned link to the image's bytes (the API answers with a redirect to it)."""
        response = await self._send("GET", f"/images/{_segment(image_id)}/content")
        location = response.headers.get("location")
        if not response.is_redirect or not location:
            raise ApiUnavailable(f"expected a redirect, got HTTP {response.status_code}")
        return str(location)

    async def create_archive(
        self, *, image_ids: list[str], selection: dict[str, Any] | None = None
    ) -> ArchiveLink:
        """Keep a selection (ids, a filter of the image list, or both) for download."""
        body: dict[str, Any] = {}
        if image_ids:
            body["image_ids"] = image_ids
        if selection is not None:
            body["filter"] = selection
        return await self._call("POST", "/archives", ArchiveLink, json=body)

    @asynccontextmanager
    async def open_archive(
        self, path: str, browser_headers: dict[str, str]
    ) -> AsyncIterator[httpx.Response]:
        """The API's answer to GET `path` (an archive) with the browser's Range and If-Range,
        its body unread: the caller streams it on. A refusal raises as any call's would, but
        416 (a Range past the end), which the browser is told as it is."""
        headers = {
            **self._headers,
            **{name: value for name, value in browser_headers.items() if value},
        }
        request = self._http.build_request("GET", path, headers=headers, timeout=ARCHIVE_TIMEOUT)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"GET {path}: {exc!r}") from exc
        try:
            if response.status_code >= 400 and response.status_code != 416:
                await response.aread()
                if response.status_code >= 500:
                    raise ApiUnavailable(f"GET {path}: HTTP {response.status_code}")
                raise refusal(response)
            yield response
        finally:
            await response.aclose()

    async def is_ready(self) -> bool:
        """Whether the API answers that it is ready (its database and store answer)."""
        try:
            await self._send("GET", "/readyz")
        except (ApiUnavailable, ApiError):
            return False
        return True

    async def _call(self, method: str, path: str, shape: type[T], **kwargs: Any) -> T:
        return decode_answer(await self._send(method, path, **kwargs), shape)

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(
                method, path, timeout=TIMEOUT_SECONDS, headers=self._headers, **kwargs
            )
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"{method} {path}: {exc!r}") from exc
        if response.status_code >= 500:
            raise ApiUnavailable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise refusal(response)
        return response


def _given(password: str | None, notify_url: str | None) -> dict[str, str]:
    """The optional fields of a new import or sync: the API takes a field left out as none."""
    given = {"password": password, "notify_url": notify_url}
    return {name: value for name, value in given.items() if value}


def _params(limit: int, cursor: str | None) -> dict[str, str]:
    return {"limit": str(limit), **({"cursor": cursor} if cursor else {})}


def _segment(value: str) -> str:
    """An id from the browser's URL, made safe to put in one segment of the API's path."""
    return quote(value, safe="")
