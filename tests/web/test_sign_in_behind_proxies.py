"""Whose address the sign-in limit counts: the connection's, or X-Forwarded-For's only when the
connection comes from one of TRUSTED_PROXIES; and wrong passwords are limited for the site as a
whole, so rotating addresses does not help a guesser. The web service under uvicorn, started as
the images start it, on the module's stack."""

from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx

from tests.web.conftest import start_web
from web.auth.service import SIGN_IN_ATTEMPTS_PER_MINUTE, SIGN_IN_FAILURES_PER_MINUTE

API_TOKEN = "token-behind-proxies-8d2c4e6f"
PASSWORD = "the one password"


@contextmanager
def web_service(api_url: str, tmp_path: Path, **env: str) -> Iterator[str]:
    server = start_web(
        api_url, tmp_path / "web.log", API_TOKEN=API_TOKEN, WEB_PASSWORD=PASSWORD, **env
    )
    try:
        yield server.url
    finally:
        server.stop()


def sign_in(web: str, password: str, forwarded_for: str) -> httpx.Response:
    """One sign-in from a fresh browser whose request names `forwarded_for` as its client."""
    with closing(httpx.Client(base_url=web, headers={"X-Forwarded-For": forwarded_for})) as b:
        b.get("/sign-in")
        b.headers["x-csrftoken"] = b.cookies["csrftoken"]
        return b.post("/sign-in", data={"password": password, "next": "/"})


def test_wrong_passwords_from_twenty_addresses_are_refused(api_url: str, tmp_path: Path) -> None:
    # Each address is a visitor of its own here (this test is the trusted proxy).
    with web_service(api_url, tmp_path, TRUSTED_PROXIES="127.0.0.1") as web:
        codes = [sign_in(web, "guess", f"198.51.100.{n}").status_code for n in range(20)]
        assert codes == [401] * SIGN_IN_FAILURES_PER_MINUTE + [429] * (
            20 - SIGN_IN_FAILURES_PER_MINUTE
        )
        # The password itself is refused too until the minute is over.
        refused = sign_in(web, PASSWORD, "198.51.100.200")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1


def test_a_trusted_proxy_names_the_visitor(api_url: str, tmp_path: Path) -> None:
    with web_service(api_url, tmp_path, TRUSTED_PROXIES="10.0.0.0/8,127.0.0.1") as web:
        for _ in range(SIGN_IN_ATTEMPTS_PER_MINUTE):
            assert sign_in(web, PASSWORD, "203.0.113.7").status_code == 303
        assert sign_in(web, PASSWORD, "203.0.113.7").status_code == 429
        # Another visitor behind the same proxy, or behind a chain of trusted hops, is not.
        assert sign_in(web, PASSWORD, "203.0.113.8").status_code == 303
        assert sign_in(web, PASSWORD, "203.0.113.7, 203.0.113.9, 10.1.2.3").status_code == 303


def test_without_trusted_proxies_x_forwarded_for_is_not_believed(
    api_url: str, tmp_path: Path
) -> None:
    with web_service(api_url, tmp_path) as web:
        for n in range(SIGN_IN_ATTEMPTS_PER_MINUTE):
            assert sign_in(web, PASSWORD, f"203.0.113.{n}").status_code == 303
        assert sign_in(web, PASSWORD, "203.0.113.99").status_code == 429
