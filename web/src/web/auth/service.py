"""Who may use the web service, and proof that a form was sent from its own pages.

With API_TOKEN set, the routes that start, retry or cancel imports (every POST) need a
signed-in session; with API_READ_TOKEN set too, every page does but the sign-in page, the
health check and the static files. A visitor signs in with WEB_PASSWORD or with API_TOKEN
itself. The session lives in a cookie the server encrypts and signs (Litestar's client-side
sessions: HttpOnly, SameSite=Lax, Secure when PUBLIC_BASE_URL is https), so any number of web
processes share it with nothing but the settings.

Every form and every htmx request carries a CSRF token (Litestar's CSRF middleware: a signed
token in a cookie, echoed in the `_csrf_token` field or the `X-CSRFToken` header), with or
without API_TOKEN: a POST without it gets 403.

Guessing the password goes no faster from many addresses than from one: sign-in attempts are
limited per visitor address (taken from X-Forwarded-For only through TRUSTED_PROXIES) and wrong
passwords for the site as a whole, as the site has one password.
"""

import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection, Request
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.types import Guard
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from web.settings import Settings

SIGN_IN_PATH = "/sign-in"
OPS_SIGN_IN_PATH = "/ops/sign-in"
SIGN_IN_PATHS = (SIGN_IN_PATH, OPS_SIGN_IN_PATH)
SIGN_OUT_PATH = "/sign-out"
SESSION_COOKIE = "session"
CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "x-csrftoken"
SESSION_HOURS = 12
# Sign-in attempts per client address and minute, in each web process: guessing a password
# goes no faster than this.
SIGN_IN_ATTEMPTS_PER_MINUTE = 10
# Wrong passwords per minute for the site as a whole, in each web process, whatever addresses
# they come from: past it every attempt is refused, right or wrong, until the minute is over.
SIGN_IN_FAILURES_PER_MINUTE = 10
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Reachable without a session even when reading needs one.
OPEN_PATHS = (SIGN_IN_PATH, SIGN_OUT_PATH, "/healthz", "/readyz", "/static")


class SignInRequired(Exception):
    """The route needs a signed-in session; `next_path` is where to come back to."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


# Paths with a guard of their own (the operators' console, web/ops/access.py), which this
# module's guard leaves alone.
OWN_GUARD_PATHS = ("/ops",)


def sign_in_enabled(settings: Settings) -> bool:
    return settings.api_token is not None


def sessions_enabled(settings: Settings) -> bool:
    """Sessions are kept for visitors (API_TOKEN) and for operators (OPS_TOKEN)."""
    return settings.api_token is not None or settings.ops_token is not None


def secret_key(settings: Settings) -> bytes:
    """The key that encrypts sessions and signs CSRF tokens. Derived from the secrets the
    deployment already has, so that every web process agrees on it and changing API_TOKEN or
    WEB_PASSWORD signs everyone out; without API_TOKEN, a key of this process alone (a CSRF
    token from another process is then refused: run one web process, or set API_TOKEN)."""
    if settings.api_token is None and settings.ops_token is None:
        return secrets.token_bytes(32)
    material = [s.get_secret_value() for s in (settings.api_token, settings.web_password) if s]
    # Only when set, so that a site without the console keeps the key it had.
    material += [s.get_secret_value() for s in (settings.ops_token, settings.ops_password) if s]
    return hashlib.sha256(("image-import web\0" + "\0".join(material)).encode()).digest()


def uses_https(settings: Settings) -> bool:
    return urlsplit(settings.public_base_url).scheme == "https"


def session_config(settings: Settings, key: bytes) -> CookieBackendConfig:
    return CookieBackendConfig(
        secret=key,
        key=SESSION_COOKIE,
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=uses_https(settings),
    )


def csrf_config(settings: Settings, key: bytes) -> CSRFConfig:
    return CSRFConfig(
        secret=key.hex(),
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER,
        # The pages carry the token themselves; no script needs to read the cookie.
        cookie_httponly=True,
        cookie_samesite="lax",
        cookie_secure=uses_https(settings),
    )


def sign_in_rate_limit() -> RateLimitConfig:
    """Litestar's rate-limit middleware, counting only the sign-in form's POSTs."""

    def is_sign_in_attempt(request: Request[Any, Any, Any]) -> bool:
        return request.method == "POST" and request.url.path in SIGN_IN_PATHS

    return RateLimitConfig(
        rate_limit=("minute", SIGN_IN_ATTEMPTS_PER_MINUTE),
        check_throttle_handler=is_sign_in_attempt,
        store="sign_in_rate_limit",
    )


def client_address_from_trusted_proxies(settings: Settings) -> DefineMiddleware | None:
    """The visitor's address, for the sign-in limit and for the API: the connection's, or,
    when that is one of TRUSTED_PROXIES, X-Forwarded-For's rightmost entry that is not
    (uvicorn's own parsing, applied here rather than by the server, whose default trusts
    127.0.0.1: the services run uvicorn with `--no-proxy-headers`). None when no proxy is
    trusted."""
    if not settings.trusted_proxies:
        return None
    trusted = [str(network) for network in settings.trusted_proxies]
    # uvicorn's ASGI types and Litestar's spell the same protocol apart.
    return DefineMiddleware(ProxyHeadersMiddleware, trusted_hosts=trusted)  # type: ignore[arg-type]


class SignInFailures:
    """Wrong passwords for the site in a fixed window, in this process's memory: one per app.
    The methods never wait, so concurrent requests cannot slip between a check and a count."""

    def __init__(
        self,
        limit: int = SIGN_IN_FAILURES_PER_MINUTE,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window_seconds = window_seconds
        self._clock = clock
        self._window_start = -math.inf
        self._count = 0

    def seconds_refused(self) -> int:
        """0 while attempts may go on; else the seconds until the window ends."""
        now = self._current_window()
        if self._count < self._limit:
            return 0
        return max(1, math.ceil(self._window_start + self._window_seconds - now))

    def record(self) -> None:
        self._current_window()
        self._count += 1

    def _current_window(self) -> float:
        now = self._clock()
        if now - self._window_start >= self._window_seconds:
            self._window_start, self._count = now, 0
        return now


def is_signed_in(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    session = connection.scope.get("session")
    return isinstance(session, dict) and session.get("signed_in") is True


def password_matches(settings: Settings, presented: str) -> bool:
    """WEB_PASSWORD or API_TOKEN, compared in constant time (every one, so the time taken does
    not tell which came close)."""
    accepted = [s.get_secret_value() for s in (settings.web_password, settings.api_token) if s]
    given = presented.encode()
    return any([hmac.compare_digest(given, secret.encode()) for secret in accepted])


def sign_in_guard(settings: Settings) -> Guard:
    """A guard for every route: POSTs need a session when API_TOKEN is set, and so does every
    other route but OPEN_PATHS when API_READ_TOKEN is set."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not sign_in_enabled(settings) or is_signed_in(connection):
            return
        path: str = connection.scope["path"]
        if any(path == p or path.startswith(f"{p}/") for p in (*OPEN_PATHS, *OWN_GUARD_PATHS)):
            return
        method = str(connection.scope.get("method", "GET"))
        if method in SAFE_METHODS and settings.api_read_token is None:
            return
        raise SignInRequired(_come_back_to(connection, method))

    return guard


def sign_in_url(next_path: str) -> str:
    return f"{SIGN_IN_PATH}?{urlencode({'next': next_path})}"


def safe_next(next_path: str | None) -> str:
    """Only a path of this site: never another host (`//evil`, `/\\evil`, `https://...`)."""
    if not next_path or not next_path.startswith("/") or next_path.startswith(("//", "/\\")):
        return "/"
    return next_path


def _come_back_to(connection: ASGIConnection[Any, Any, Any, Any], method: str) -> str:
    """After signing in: the page asked for, or, for a refused POST, the page it came from."""
    if method in SAFE_METHODS:
        query = connection.scope.get("query_string", b"").decode("latin-1")
        return connection.scope["path"] + (f"?{query}" if query else "")
    source = connection.headers.get("hx-current-url") or connection.headers.get("referer") or ""
    parts = urlsplit(source)
    if parts.netloc and parts.netloc != connection.headers.get("host"):
        return "/"
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))
