"""With API_TOKEN and API_READ_TOKEN set on the API, the web service works with the token it
holds, and no page, fragment, redirect or header it sends to a browser carries it. Its answers
carry the usual security headers, and the API limits start requests per visitor, not per web
service, when each trusts the proxy in front of it (TRUSTED_PROXIES). The real API and web under
uvicorn, on the module's stack."""

import contextlib
import time
from typing import Any

import httpx

from tests.conftest import Stack

API_TOKEN = "web-held-token-6c1f0e8d4b2a9e73"
API_READ_TOKEN = "read-token-1b7e5d3c9a0f4e28"
START_LIMIT = 3
# The API with both tokens and a small start limit, believing the web service (on loopback) as
# its proxy.
API_ENV = {
    "API_TOKEN": API_TOKEN,
    "API_READ_TOKEN": API_READ_TOKEN,
    "START_RATE_LIMIT_PER_MINUTE": str(START_LIMIT),
    "TRUSTED_PROXIES": "127.0.0.1",
}
# The web service holds the write token and believes these tests as the proxy in front of it.
WEB_ENV = {"API_TOKEN": API_TOKEN, "TRUSTED_PROXIES": "127.0.0.1/32"}


def visitor(address: str) -> dict[str, str]:
    """A browser at `address`, as a trusted proxy in front of the web service reports it."""
    return {"X-Forwarded-For": address}


def signed_in_browser(web: str, address: str) -> httpx.Client:
    """A browser at `address` that signed in (with API_TOKEN, as the web allows) and sends the
    CSRF token with every request, as the pages do."""
    browser = httpx.Client(base_url=web, headers=visitor(address))
    browser.get("/sign-in")
    browser.headers["x-csrftoken"] = browser.cookies["csrftoken"]
    signed_in = browser.post("/sign-in", data={"password": API_TOKEN, "next": "/"})
    assert signed_in.status_code == 303, signed_in.text
    assert_no_token(signed_in)
    return browser


def assert_no_token(response: httpx.Response) -> None:
    for secret in (API_TOKEN, API_READ_TOKEN):
        assert secret not in response.text, response.url
        for name, value in response.headers.items():
            assert secret not in value, (response.url, name)


def assert_security_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff", response.url
    assert response.headers["x-frame-options"] == "DENY", response.url
    assert response.headers["referrer-policy"] == "same-origin", response.url
    assert "default-src 'self'" in response.headers["content-security-policy"], response.url


def wait_until_done(api_url: str, import_id: str, timeout: float = 60) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {API_READ_TOKEN}"}
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = httpx.get(f"{api_url}/imports/{import_id}", headers=headers).json()
        if body["status"] not in {"queued", "running"}:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def test_the_api_refuses_callers_without_the_token(api_url: str) -> None:
    assert httpx.get(f"{api_url}/imports").status_code == 401
    assert httpx.post(f"{api_url}/import/google-drive", json={"url": "x"}).status_code == 401
    assert httpx.get(f"{api_url}/healthz").status_code == 200


def test_every_page_works_through_the_token_and_none_shows_it(
    web: str, api_url: str, stack: Stack
) -> None:
    with contextlib.closing(signed_in_browser(web, "203.0.113.10")) as browser:
        seen = [browser.get("/")]
        started = browser.post(
            "/imports", data={"url": stack.drive.fixture.link("mixed"), "recursive": "true"}
        )
        assert started.status_code == 303, started.text
        seen.append(started)
        page = started.headers["location"]
        import_id = page.rsplit("/", 1)[1]
        assert wait_until_done(api_url, import_id)["status"] == "completed"

        gallery = browser.get("/images", params={"import_id": import_id})
        seen += [
            browser.get(page),
            browser.get(f"{page}/progress", headers={"HX-Request": "true"}),
            browser.get("/imports"),
            gallery,
            browser.get("/static/style.css"),
            browser.get("/no/such/page"),
        ]
        image_ids = [part.split('"', 1)[0] for part in gallery.text.split('href="/images/')[1:]]
        assert image_ids, gallery.text
        seen += [
            browser.get(f"/images/{image_ids[0]}"),
            browser.get(f"/images/{image_ids[0]}/download"),
        ]

    for response in seen:
        assert response.status_code < 500, (response.url, response.status_code)
        assert_no_token(response)
        assert_security_headers(response)
    assert [r.status_code for r in seen[2:5]] == [200, 200, 200]
    assert seen[-1].status_code in {302, 303, 307}
    assert seen[-1].headers["location"].startswith(stack.s3.endpoint_url)


def test_the_start_limit_counts_each_visitor_of_the_web_service_apart(
    web: str, stack: Stack
) -> None:
    link = "https://drive.google.com/drive/folders/1NoSuchFolderForTheLimit0000000"

    browsers = {
        address: signed_in_browser(web, address) for address in ("203.0.113.20", "203.0.113.21")
    }

    def start(address: str) -> httpx.Response:
        response = browsers[address].post("/imports", data={"url": link})
        assert_no_token(response)
        return response

    for _ in range(START_LIMIT):
        assert start("203.0.113.20").status_code == 303
    refused = start("203.0.113.20")
    assert refused.status_code == 422
    assert "too many requests" in refused.text
    # Another visitor of the same web service is not held back.
    assert start("203.0.113.21").status_code == 303
