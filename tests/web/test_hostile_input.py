"""No input makes the web answer 500: NUL bytes, invalid UTF-8 and over-long values in query
strings, paths and forms get a page that says what is wrong (4xx), against a stand-in API that
refuses what the real one refuses."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from tests.web.test_pages import with_csrf_token
from web.app import create_app
from web.settings import Settings


def strict_api(request: httpx.Request) -> httpx.Response:
    """Refuses a NUL anywhere, as the API's validation does; otherwise has nothing."""
    if b"%00" in request.url.raw_path or b"\\u0000" in request.content:
        return httpx.Response(422, json={"error": "invalid_input", "detail": "no NUL, please"})
    if request.method == "POST" and request.url.path == "/imports":
        # None of these forms carries a link of a source the API knows.
        return httpx.Response(422, json={"error": "invalid_input", "detail": "not a folder link"})
    if request.url.path in {"/imports", "/images"}:
        return httpx.Response(200, json={"items": [], "next_cursor": None})
    return httpx.Response(404, json={"error": "not_found", "detail": "nothing here"})


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(
        Settings(api_url="http://api.test"), api_transport=httpx.MockTransport(strict_api)
    )
    async with AsyncTestClient(app=app) as client:
        client.follow_redirects = False
        await with_csrf_token(client)
        yield client


@pytest.mark.parametrize(
    "path",
    [
        "/images?q=%00",
        "/images?mime_type=%00&source=%00&import_id=%00",
        "/images/more?cursor=%00",
        "/imports?cursor=%00",
        "/imports/%00",
        "/imports/%00/progress",
        "/imports/%00/failures?cursor=%00",
        "/images/%00",
        "/imports/source?url=%00",
        "/syncs?cursor=%00",
        "/syncs/%00",
        "/images?show_removed=%00",
        "/images?q=%FF%FE",
        f"/images?q={'x' * 8000}",
        f"/imports/{'a' * 8000}",
    ],
)
async def test_hostile_query_strings_and_paths_get_no_server_error(
    client: AsyncTestClient[Any], path: str
) -> None:
    response = await client.get(path)
    assert response.status_code < 500, (path, response.status_code, response.text[:300])


@pytest.mark.parametrize(
    "body",
    [
        b"url=%00",
        b"url=%FF%FE&recursive=true",
        b"url=\xff\xfe",
        b"url=" + b"A" * 8000,
        b"recursive=%00",
        b"url=x&keep_in_sync=true&every=%00&on_removed=%00",
        b"url=x&keep_in_sync=%00",
    ],
)
async def test_hostile_forms_get_no_server_error(client: AsyncTestClient[Any], body: bytes) -> None:
    response = await client.post(
        "/imports",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code < 500, (body, response.status_code, response.text[:300])
