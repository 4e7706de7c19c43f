"""No input makes the API answer 500: NUL bytes, invalid UTF-8, over-long ids and values are
refused at the request's validation with 4xx and the usual error body."""

import base64
import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.api.factories import insert_import
from tests.conftest import Stack

Client = AsyncTestClient[Any]
DRIVE_ID = "1HostileInputFolder0000000000000"


def assert_refused(response: Any, status: int = 422) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    # The error body: always error and detail; field and conflict when the API knows them.
    assert {"error", "detail"} <= set(body) <= {"error", "detail", "field", "conflict"}, body
    assert body["detail"]


def text_cursor(key: str) -> str:
    raw = json.dumps([key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "query",
    [
        "q=%00",
        "mime_type=%00",
        "mime_type=image%2Fjpeg%00",
        "q=a%00b",
        "cursor=%00",
        f"mime_type={'x' * 300}",
        f"cursor={'A' * 5000}",
    ],
)
async def test_nul_bytes_and_long_values_in_image_filters_are_refused(
    api: Client, query: str
) -> None:
    assert_refused(await api.get(f"/images?{query}"))


async def test_a_cursor_carrying_a_nul_byte_is_refused(api: Client, stack: Stack) -> None:
    with stack.db() as db:
        import_id = insert_import(db, status="completed")
    response = await api.get(
        f"/imports/{import_id}/failures", params={"cursor": text_cursor("a\x00b")}
    )
    assert_refused(response)


@pytest.mark.parametrize(
    "path",
    ["/imports/%00", "/images/%00", "/images/%00/content", "/imports/%00/failures"],
)
async def test_a_nul_byte_in_an_id_is_not_found(api: Client, path: str) -> None:
    assert_refused(await api.get(path), 404)


@pytest.mark.parametrize("route", ["/import/google-drive", "/import/dropbox"])
@pytest.mark.parametrize(
    "body",
    [
        b'{"url": "\xff\xfe"}',
        b'{"url": "https://drive.google.com/drive/folders/\xc3"}',
        b"\xff",
        b'{"url": "\\u0000"}',
        b'{"url": "https://www.dropbox.com/sh/abc/def\\u0000"}',
        b'{"url": "\\ud800"}',
    ],
)
async def test_invalid_utf8_and_nul_bytes_in_a_start_body_are_refused(
    api: Client, route: str, body: bytes
) -> None:
    response = await api.post(route, content=body, headers={"content-type": "application/json"})
    assert_refused(response)


@pytest.mark.parametrize(
    "url",
    [
        f"https://drive.google.com/drive/folders/{'A' * 8000}",
        f"https://drive.google.com/drive/folders/{'A' * 201}",
        f"https://drive.google.com/open?id={'A' * 201}",
        "A" * 201,
        f"https://drive.google.com/drive/folders/{DRIVE_ID}?x={'y' * 3000}",
    ],
)
async def test_over_long_drive_links_and_ids_are_refused(api: Client, url: str) -> None:
    assert_refused(await api.post("/import/google-drive", json={"url": url}))


@pytest.mark.parametrize(
    "body",
    [
        {"url": f"https://www.dropbox.com/sh/{'a' * 201}/AAAbbb"},
        {"url": f"https://www.dropbox.com/scl/fo/abc123/def?rlkey={'k' * 201}"},
        {"url": "https://www.dropbox.com/sh/abc123/AAAbbb", "password": "pass\x00word"},
        {"url": "https://www.dropbox.com/sh/abc123/AAAbbb", "password": "p" * 2000},
    ],
)
async def test_over_long_dropbox_links_and_nul_passwords_are_refused(
    api: Client, body: dict[str, Any]
) -> None:
    assert_refused(await api.post("/import/dropbox", json=body))


async def test_an_over_long_idempotency_key_is_refused(api: Client) -> None:
    response = await api.post(
        "/import/google-drive",
        json={"url": DRIVE_ID},
        headers={"Idempotency-Key": "k" * 300},
    )
    assert_refused(response)


async def test_a_drive_id_of_200_characters_is_still_accepted(api: Client) -> None:
    response = await api.post("/import/google-drive", json={"url": "A" * 200})
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("route", ["/import/google-drive", "/import/dropbox"])
@pytest.mark.parametrize("url", ["\x16[A\x81", "https://[drive.google.com/drive/folders/x"])
async def test_a_link_urllib_cannot_split_is_refused(api: Client, route: str, url: str) -> None:
    assert_refused(await api.post(route, json={"url": url}))
