"""Sign-in and CSRF on the web service, against a stand-in API (httpx's MockTransport): with
API_TOKEN set, starting, retrying and cancelling imports need a signed-in session, reading
does too with API_READ_TOKEN, and every POST needs the CSRF token, with or without API_TOKEN.
The real API and browser are in test_in_browser.py."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from tests.web.test_pages import import_view, with_csrf_token
from web.app import create_app
from web.auth.service import SignInFailures
from web.settings import Settings

API_TOKEN = "api-token-for-the-web-5e2d"
PASSWORD = "correct horse battery staple"
IMPORT_ID = import_view()["import_id"]
LINK = "https://drive.google.com/drive/folders/1AbCdEfGhIjK"

Client = AsyncTestClient[Any]


def stand_in_api(request: httpx.Request) -> httpx.Response:
    accepted = {"import_id": IMPORT_ID, "status": "queued", "source": "google_drive"}
    answers: dict[str, Callable[[], httpx.Response]] = {
        "POST /imports": lambda: httpx.Response(202, json=accepted | {"folder_id": "1AbCdEfGhIjK"}),
        "GET /imports": lambda: httpx.Response(200, json={"items": [], "next_cursor": None}),
        f"GET /imports/{IMPORT_ID}": lambda: httpx.Response(200, json=import_view()),
        f"POST /imports/{IMPORT_ID}/cancel": lambda: httpx.Response(
            202, json={"import_id": IMPORT_ID, "status": "cancelled", "cancelled_jobs": 1}
        ),
    }
    answer = answers.get(f"{request.method} {request.url.path}")
    if answer is None:
        return httpx.Response(404, json={"error": "not_found", "detail": "no such route"})
    return answer()


@asynccontextmanager
async def web_client(
    base_url: str = "http://testserver.local", **settings: Any
) -> AsyncIterator[Client]:
    app = create_app(
        Settings(api_url="http://api.test", **settings),
        api_transport=httpx.MockTransport(stand_in_api),
    )
    async with AsyncTestClient(app=app, base_url=base_url) as client:
        client.follow_redirects = False
        await with_csrf_token(client)
        yield client


ClientFactory = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture
async def guarded() -> AsyncIterator[Client]:
    async with web_client(api_token=API_TOKEN, web_password=PASSWORD) as client:
        yield client


async def sign_in(client: Client, password: str = PASSWORD, next_path: str = "/") -> Any:
    return await client.post("/sign-in", data={"password": password, "next": next_path})


async def test_without_a_session_starting_an_import_goes_to_the_sign_in_page(
    guarded: Client,
) -> None:
    response = await guarded.post("/imports", data={"url": LINK}, headers={"referer": "/"})
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2F"
    # htmx follows HX-Redirect; the form is not swapped.
    response = await guarded.post(
        "/imports", data={"url": LINK}, headers={"HX-Request": "true", "HX-Current-URL": "/"}
    )
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/sign-in?next=%2F"
    for action in ("retry", "cancel"):
        response = await guarded.post(f"/imports/{IMPORT_ID}/{action}")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/sign-in?next=")


async def test_reads_stay_open_without_api_read_token(guarded: Client) -> None:
    assert (await guarded.get("/")).status_code == 200
    assert (await guarded.get(f"/imports/{IMPORT_ID}")).status_code == 200
    page = (await guarded.get("/")).text
    assert 'href="/sign-in"' in page


async def test_a_wrong_password_is_refused_and_signs_no_one_in(guarded: Client) -> None:
    refused = await sign_in(guarded, "wrong")
    assert refused.status_code == 401
    assert "That password is not right." in refused.text
    assert "session" not in guarded.cookies
    assert (await guarded.post("/imports", data={"url": LINK})).status_code == 303


@pytest.mark.parametrize("secret", [PASSWORD, API_TOKEN])
async def test_after_signing_in_with_the_password_or_the_token_imports_start(
    guarded: Client, secret: str
) -> None:
    signed_in = await sign_in(guarded, secret, next_path=f"/imports/{IMPORT_ID}")
    assert signed_in.status_code == 303, signed_in.text
    assert signed_in.headers["location"] == f"/imports/{IMPORT_ID}"
    cookie = signed_in.headers["set-cookie"].lower()
    assert cookie.startswith("session=")
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # served over http here

    started = await guarded.post("/imports", data={"url": LINK})
    assert started.status_code == 303
    assert started.headers["location"] == f"/imports/{IMPORT_ID}"
    assert (await guarded.post(f"/imports/{IMPORT_ID}/cancel")).status_code == 303
    assert "Sign out" in (await guarded.get("/")).text

    signed_out = await guarded.post("/sign-out")
    assert signed_out.status_code == 303
    assert (await guarded.post("/imports", data={"url": LINK})).status_code == 303
    assert (
        (await guarded.post("/imports", data={"url": LINK}))
        .headers["location"]
        .startswith("/sign-in")
    )


async def test_cookies_are_secure_when_the_site_is_served_over_https() -> None:
    async with web_client(
        "https://testserver.local",
        api_token=API_TOKEN,
        public_base_url="https://images.example.org",
    ) as client:
        signed_in = await sign_in(client, API_TOKEN)
        assert signed_in.status_code == 303
        assert "secure" in signed_in.headers["set-cookie"].lower()


@pytest.mark.parametrize("next_path", ["//evil.example/", "https://evil.example/", "/\\evil"])
async def test_sign_in_sends_back_only_to_a_page_of_this_site(
    guarded: Client, next_path: str
) -> None:
    signed_in = await sign_in(guarded, next_path=next_path)
    assert signed_in.headers["location"] == "/"


async def test_with_api_read_token_every_page_needs_a_session() -> None:
    async with web_client(api_token=API_TOKEN, api_read_token="read-token") as client:
        for path in ["/", "/imports", f"/imports/{IMPORT_ID}", "/images"]:
            response = await client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/sign-in?next="), path
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/sign-in")).status_code == 200
        assert (await client.get("/static/style.css")).status_code == 200
        await sign_in(client, API_TOKEN)
        assert (await client.get("/")).status_code == 200


@pytest.mark.parametrize("settings", [{}, {"api_token": API_TOKEN}])
async def test_a_post_without_the_csrf_token_is_refused(settings: dict[str, Any]) -> None:
    async with web_client(**settings) as client:
        if settings:
            await sign_in(client, API_TOKEN)
        del client.headers["x-csrftoken"]
        for path in ["/imports", f"/imports/{IMPORT_ID}/cancel", "/sign-in", "/sign-out"]:
            response = await client.post(path, data={"url": LINK})
            assert response.status_code == 403, path
            assert "security token" in response.text
        # A token that does not match the cookie is no better.
        response = await client.post(
            "/imports", data={"url": LINK}, headers={"x-csrftoken": "0" * 128}
        )
        assert response.status_code == 403


async def test_without_api_token_the_web_stays_open() -> None:
    async with web_client() as client:
        started = await client.post("/imports", data={"url": LINK})
        assert started.status_code == 303
        assert started.headers["location"] == f"/imports/{IMPORT_ID}"
        assert "Sign in" not in (await client.get("/")).text
        assert (await client.get("/sign-in")).status_code == 303


@pytest.mark.parametrize("name", ["web_password", "api_read_token"])
def test_a_password_or_read_token_without_api_token_is_refused_at_startup(name: str) -> None:
    with pytest.raises(ValueError, match="API_TOKEN"):
        Settings(**{name: "something"})


async def test_sign_in_attempts_are_limited_per_minute(guarded: Client) -> None:
    for _ in range(10):
        assert (await sign_in(guarded, "guess")).status_code == 401
    limited = await sign_in(guarded, PASSWORD)
    assert limited.status_code == 429
    assert "Too many sign-in attempts" in limited.text
    assert int(limited.headers["retry-after"]) >= 1
    # Only sign-in attempts count.
    assert (await guarded.get("/")).status_code == 200


def test_wrong_passwords_for_the_site_are_counted_in_a_window() -> None:
    now = [0.0]
    failures = SignInFailures(limit=2, window_seconds=60, clock=lambda: now[0])
    failures.record()
    assert failures.seconds_refused() == 0
    failures.record()
    now[0] = 15.5
    assert failures.seconds_refused() == 45
    now[0] = 60.0
    assert failures.seconds_refused() == 0


def test_trusted_proxies_are_addresses_or_networks_separated_by_commas() -> None:
    settings = Settings(api_token=API_TOKEN, trusted_proxies="10.0.0.0/8, 127.0.0.1,::1")
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]
    assert Settings(trusted_proxies="").trusted_proxies == []
    with pytest.raises(ValueError, match="trusted_proxies"):
        Settings(trusted_proxies="the load balancer")
