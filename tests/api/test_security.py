"""What makes the API fit for the public internet: bearer tokens on the routes that start or
change work (and on reads when API_READ_TOKEN is set), a rate limit on those routes, a cap on
request bodies, no stack trace in any error, and the usual security headers on every answer."""

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import get
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.settings import Settings
from tests.api.factories import insert_import
from tests.conftest import ApiClientFactory, Stack

WRITE_TOKEN = "write-token-4f8a1c9e2b7d"
READ_TOKEN = "read-token-93e1d0b6a5c2"
FOLDER_URL = "https://drive.google.com/drive/folders/1SecurityTestFolder000000000000"

Client = AsyncTestClient[Any]


@pytest.fixture(scope="module")
async def guarded(api_client_with: ApiClientFactory) -> AsyncIterator[Client]:
    """API_TOKEN set, reads open."""
    async with api_client_with(api_token=WRITE_TOKEN) as client:
        yield client


@pytest.fixture(scope="module")
async def closed(api_client_with: ApiClientFactory) -> AsyncIterator[Client]:
    """API_TOKEN and API_READ_TOKEN set."""
    async with api_client_with(api_token=WRITE_TOKEN, api_read_token=READ_TOKEN) as client:
        yield client


@pytest.fixture(scope="module")
def finished_import(stack: Stack) -> str:
    with stack.db() as db:
        return insert_import(db, status="completed")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def work_routes(import_id: str) -> list[tuple[str, dict[str, Any] | None]]:
    return [
        ("/import/google-drive", {"url": FOLDER_URL}),
        ("/import/dropbox", {"url": "https://www.dropbox.com/sh/abc123/AAAbbb"}),
        (f"/imports/{import_id}/retry", None),
        (f"/imports/{import_id}/cancel", None),
    ]


def assert_unauthorized(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"
    assert response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route", range(4))
@pytest.mark.parametrize(
    "headers", [{}, bearer("wrong"), bearer(READ_TOKEN), {"Authorization": WRITE_TOKEN}]
)
async def test_routes_that_start_or_change_work_refuse_a_missing_or_wrong_token(
    guarded: Client, finished_import: str, route: int, headers: dict[str, str]
) -> None:
    path, body = work_routes(finished_import)[route]
    assert_unauthorized(await guarded.post(path, json=body, headers=headers))


async def test_with_the_token_work_starts_and_reads_stay_open(
    guarded: Client, finished_import: str
) -> None:
    started = await guarded.post(
        "/import/google-drive", json={"url": FOLDER_URL}, headers=bearer(WRITE_TOKEN)
    )
    assert started.status_code == 202, started.text
    # The scheme's name in any case, as RFC 9110 allows.
    retried = await guarded.post(
        f"/imports/{finished_import}/retry", headers={"Authorization": f"bearer {WRITE_TOKEN}"}
    )
    assert retried.status_code == 202, retried.text
    for path in ["/imports", f"/imports/{finished_import}", "/images", "/healthz"]:
        assert (await guarded.get(path)).status_code == 200, path


async def test_with_a_read_token_every_route_but_health_and_schema_needs_a_token(
    closed: Client, finished_import: str
) -> None:
    for path in ["/imports", f"/imports/{finished_import}", "/images"]:
        assert_unauthorized(await closed.get(path))
        assert_unauthorized(await closed.get(path, headers=bearer("wrong")))
        assert (await closed.get(path, headers=bearer(READ_TOKEN))).status_code == 200
        assert (await closed.get(path, headers=bearer(WRITE_TOKEN))).status_code == 200
    for path in ["/healthz", "/readyz", "/schema/openapi.json"]:
        assert (await closed.get(path)).status_code == 200, path
    # The read token reads; it starts nothing.
    assert_unauthorized(
        await closed.post(
            "/import/google-drive", json={"url": FOLDER_URL}, headers=bearer(READ_TOKEN)
        )
    )


def test_a_read_token_without_a_write_token_is_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="API_TOKEN"):
        Settings(api_read_token=READ_TOKEN)


def test_no_proxy_is_trusted_unless_trusted_proxies_names_it() -> None:
    assert Settings().trusted_proxies == []
    settings = Settings(trusted_proxies="10.0.0.0/8, 127.0.0.1")
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "127.0.0.1/32"]
    with pytest.raises(ValueError, match="trusted_proxies"):
        Settings(trusted_proxies="the load balancer")


async def test_start_requests_past_the_rate_limit_get_429_with_retry_after(
    api_client_with: ApiClientFactory, finished_import: str
) -> None:
    async with api_client_with(start_rate_limit_per_minute=3) as client:
        for _ in range(3):
            # Refused or not, each request to start work counts.
            response = await client.post("/import/google-drive", json={"url": "not a link"})
            assert response.status_code == 422
        limited = await client.post(f"/imports/{finished_import}/retry")
        assert limited.status_code == 429
        assert limited.json()["error"] == "rate_limited"
        assert "retry in" in limited.json()["detail"]
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Reads are not limited.
        assert (await client.get("/imports")).status_code == 200


async def post_in_chunks(client: Client, path: str, chunks: list[bytes]) -> tuple[int, Any]:
    """A POST straight to the app, its body in several messages and with no Content-Length, as
    a chunked upload arrives: the limit must count the bytes as they come."""
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    await client.app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


async def test_a_body_over_max_request_bytes_gets_413_whether_announced_or_streamed(
    api_client_with: ApiClientFactory,
) -> None:
    body = b'{"url": "' + b"x" * 2000 + b'"}'
    too_large = {
        "error": "request_too_large",
        "detail": "the request body is larger than the 1024 bytes this API accepts",
    }
    async with api_client_with(max_request_bytes=1024) as client:
        announced = await client.post(
            "/import/google-drive", content=body, headers={"content-type": "application/json"}
        )
        assert announced.status_code == 413, announced.text
        assert announced.json() == too_large
        chunks = [body[start : start + 500] for start in range(0, len(body), 500)]
        assert await post_in_chunks(client, "/import/google-drive", chunks) == (413, too_large)
        small = await client.post("/import/google-drive", json={"url": "not a link"})
        assert small.status_code == 422


async def test_an_unexpected_error_answers_the_generic_body_and_is_logged_with_its_trace(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    @get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail at /srv/app/internal.py line 42")

    app = create_app(Settings(database_url=stack.database_url, s3_bucket=stack.bucket))
    app.register(boom)
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        async with AsyncTestClient(app=app) as client:
            response = await client.get("/boom")

    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "detail": "unexpected server error; it has been logged",
    }
    for leak in ("secret detail", "Traceback", "RuntimeError", "internal.py"):
        assert leak not in response.text
    logged = [r for r in caplog.records if r.getMessage().startswith("api.unexpected_error")]
    assert logged and logged[0].exc_info is not None
    assert "secret detail" in str(logged[0].exc_info[1])


async def test_every_answer_carries_the_security_headers(api: Client) -> None:
    answers = [
        await api.get("/imports"),
        await api.get("/imports/not-an-id"),
        await api.get("/no/such/route"),
        await api.post("/import/google-drive", json={"url": "not a link"}),
    ]
    for response in answers:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
    # The docs pages load their own scripts: no policy there, the other headers still.
    docs = await api.get("/schema/swagger")
    assert docs.status_code == 200
    assert "content-security-policy" not in docs.headers
    assert docs.headers["x-content-type-options"] == "nosniff"
