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
# Many POSTs from one address: past the start limit they would be 429 before being read.
API_SETTINGS = {"start_rate_limit_per_minute": 0}
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


@pytest.mark.parametrize("depth", [100, 1_000, 5_000])
@pytest.mark.parametrize(
    ("method", "route"),
    [("POST", "/import/google-drive"), ("POST", "/imports"), ("POST", "/syncs")],
)
async def test_a_body_nested_at_any_depth_is_refused_not_a_server_error(
    api: Client, method: str, route: str, depth: int
) -> None:
    for body in [b"[" * depth, b'{"url": ' + b'{"a": ' * depth, b"[" * depth + b"]" * depth]:
        response = await api.request(
            method, route, content=body, headers={"content-type": "application/json"}
        )
        # Either too deep to read or not the body's shape: 422; or, past the body limit, 413.
        assert response.status_code in (413, 422), (depth, response.status_code, response.text)
        assert_refused(response, response.status_code)


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ],
)
@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("POST", "/import/google-drive"),
        ("POST", "/imports"),
        ("POST", "/syncs"),
        ("PATCH", "/syncs/00000000-0000-4000-8000-000000000000"),
    ],
)
async def test_a_body_not_sent_as_json_is_refused_with_415_before_it_is_read(
    api: Client, stack: Stack, method: str, route: str, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    body = json.dumps({"url": DRIVE_ID, "every": "1h"}).encode()
    count = "SELECT (SELECT count(*) FROM imports) + (SELECT count(*) FROM syncs)"
    with stack.db() as db:
        before = db.execute(count).fetchone()
    response = await api.request(method, route, content=body, headers=headers)
    assert_refused(response, 415)
    assert response.json()["error"] == "unsupported_media_type"
    assert response.json()["field"] == "Content-Type"
    with stack.db() as db:
        assert db.execute(count).fetchone() == before


@pytest.mark.parametrize(
    "forged",
    [
        base64.urlsafe_b64encode(raw).decode().rstrip("=")
        for raw in [b'{"x":1}', b'{"a":1,"b":2}', b"1", b'"a"', b"[1]", b"[null]", b"[[]]"]
    ],
)
@pytest.mark.parametrize("path", ["/imports", "/images", "/syncs", "/imports/{import_id}/failures"])
async def test_a_forged_cursor_is_refused_on_every_list(
    api: Client, stack: Stack, path: str, forged: str
) -> None:
    with stack.db() as db:
        import_id = insert_import(db, status="completed")
    response = await api.get(path.format(import_id=import_id), params={"cursor": forged})
    assert_refused(response)
    assert response.json()["field"] == "cursor"
