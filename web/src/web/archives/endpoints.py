"""Downloads as ZIP: an import's images, or the gallery's selection.

The archive streams through this service rather than from a link to the API: browsers reach
this service, not necessarily the API, and the API may want a bearer token that only this
service holds. The bytes pass on as they come (constant memory), with the API's
Content-Length (the browser shows progress), and the browser's Range and If-Range go to the API,
so a cut download resumes. A selection is kept by the API (POST /archives) and the browser is
sent to its link (303), which it can fetch again and resume like any file.
"""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Stream
from litestar.status_codes import HTTP_303_SEE_OTHER

from web.api_client import (
    ARCHIVE_ANSWER_HEADERS,
    ARCHIVE_REQUEST_HEADERS,
    ApiClient,
    ApiError,
)
from web.images.filters import api_selection, chosen_filters


class ArchivePages(Controller):
    @get("/imports/{import_id:str}/archive")
    async def import_archive(
        self,
        request: Request[Any, Any, Any],
        api: NamedDependency[ApiClient],
        import_id: FromPath[str],
    ) -> Stream:
        """An import's images as one ZIP, streamed from the API."""
        return await _relay(request, api, f"/imports/{_segment(import_id)}/archive")

    @get("/archives/{archive_id:str}")
    async def archive(
        self,
        request: Request[Any, Any, Any],
        api: NamedDependency[ApiClient],
        archive_id: FromPath[str],
    ) -> Stream:
        """A selection kept by the API, as one ZIP, streamed from the API."""
        return await _relay(request, api, f"/archives/{_segment(archive_id)}")

    @post("/archives", status_code=HTTP_303_SEE_OTHER)
    async def create_archive(
        self,
        api: NamedDependency[ApiClient],
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        """The gallery's selection (ticked images, or every image its filters show) kept for
        download; the browser goes to its link."""
        ticked = data.get("image_ids") or []
        image_ids = [ticked] if isinstance(ticked, str) else list(ticked)
        selection = None
        if data.get("scope") == "all":
            selection = api_selection(chosen_filters(data))
            image_ids = []
        elif not image_ids:
            raise ApiError(422, "invalid_input", "Tick the images to download first.")
        link = await api.create_archive(image_ids=image_ids, selection=selection)
        return Redirect(link.url, status_code=HTTP_303_SEE_OTHER)


async def _relay(request: Request[Any, Any, Any], api: ApiClient, path: str) -> Stream:
    asked = {name: request.headers.get(name, "") for name in ARCHIVE_REQUEST_HEADERS}
    exits = AsyncExitStack()
    answer: httpx.Response = await exits.enter_async_context(api.open_archive(path, asked))

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in answer.aiter_raw():
                yield chunk
        finally:
            await exits.aclose()

    headers = {
        name: answer.headers[name] for name in ARCHIVE_ANSWER_HEADERS if name in answer.headers
    }
    media_type = headers.pop("content-type", "application/zip")
    return Stream(body(), status_code=answer.status_code, headers=headers, media_type=media_type)


def _segment(value: str) -> str:
    """An id from the browser's URL, made safe to put in one segment of the API's path."""
    return quote(value, safe="")
