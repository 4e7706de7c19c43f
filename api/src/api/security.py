"""What lets the API face the public internet: bearer tokens on the routes that start or change
work (and on reads, when asked), a rate limit on those routes per client address (taken from
X-Forwarded-For only through TRUSTED_PROXIES), and the security headers of every response.
Applied once, to the whole app, in `app.create_app`.

The routes that start or change work are the ones with an unsafe method: every POST (start an
import, retry, cancel). A route added later with POST, PUT, PATCH or DELETE is covered without
a change here.

The guard and the hooks are coroutines although they never wait: Litestar runs a plain function
in a worker thread, and these run on every request (the headers hook on every message).
"""

import hmac
from collections.abc import Sequence
from typing import Any

from litestar.connection import ASGIConnection, Request
from litestar.datastructures import MutableScopeHeaders
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.routes import HTTPRoute
from litestar.types import BeforeMessageSendHookHandler, Guard, Message, Scope
from pydantic import SecretStr
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.errors import Unauthorized
from api.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REALM = 'Bearer realm="image-import"'

# JSON needs nothing from a browser; the OpenAPI pages load their own scripts and styles, so they
# go without a policy rather than with one that would have to allow a CDN.
CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def starts_or_changes_work(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    # A websocket has no method: it would be a read (this API has none).
    return connection.scope.get("method", "GET") not in SAFE_METHODS


OPS_PATH = "/ops"


def is_ops_path(path: str) -> bool:
    """The operators' routes, which take OPS_TOKEN only (api/ops/access.py), not API_TOKEN."""
    return path == OPS_PATH or path.startswith(f"{OPS_PATH}/")


def needs_token(settings: Settings, method: str, path: str, *, open_paths: Sequence[str]) -> bool:
    """Whether a request (or, given a route's path template, a route) needs a bearer token:
    with API_TOKEN set, one that starts or changes work; with API_READ_TOKEN set too, every
    other one but `open_paths` and what is below them. The operators' routes are not this
    guard's: they need OPS_TOKEN, always."""
    if is_ops_path(path):
        return False
    if method not in SAFE_METHODS:
        return settings.api_token is not None
    is_open = any(path == p or path.startswith(f"{p.rstrip('/')}/") for p in open_paths)
    return settings.api_read_token is not None and not is_open


def declare_bearer_where_needed(
    routes: Sequence[HTTPRoute], settings: Settings, *, open_paths: Sequence[str]
) -> None:
    """Declares the bearer scheme in the OpenAPI schema on exactly the operations the guard
    asks a token of, and on no other. Runs before the schema is first built."""
    for route in routes:
        for method, (handler, _) in route.route_handler_map.items():
            if is_ops_path(route.path):
                handler.security = [{"ops": []}]
            elif needs_token(settings, method, route.path, open_paths=open_paths):
                handler.security = [{"bearer": []}]


def bearer_token_guard(settings: Settings, *, open_paths: Sequence[str]) -> Guard:
    """A guard for every route: with API_TOKEN set, routes that start or change work need it;
    with API_READ_TOKEN set too, every other route but `open_paths` (and what is below them)
    needs one of the two. Tokens are compared in constant time."""
    write_token = encoded(settings.api_token)
    read_tokens = [t for t in (encoded(settings.api_read_token), write_token) if t]

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        method, path = str(connection.scope.get("method", "GET")), connection.scope["path"]
        if not needs_token(settings, method, path, open_paths=open_paths):
            return
        accepted = read_tokens if method in SAFE_METHODS else [write_token] if write_token else []
        presented = bearer_token(connection)
        if presented is None:
            raise Unauthorized(
                "this route needs an `Authorization: Bearer <token>` header",
                headers={"WWW-Authenticate": REALM},
            )
        # Every token is compared, so the time taken does not tell which one came close.
        if not any([hmac.compare_digest(presented, token) for token in accepted]):
            raise Unauthorized(
                "the bearer token is not one this route accepts",
                headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
            )

    return guard


def start_rate_limit(settings: Settings) -> RateLimitConfig | None:
    """START_RATE_LIMIT_PER_MINUTE requests that start or change work per client address, in
    a fixed window of a minute, counted in this process's memory (Litestar's own middleware):
    N API processes let a client through N times as often. The 429 gets `Retry-After` and the
    API's error body from `errors.handle_http_exception`. The client address is the one
    `client_address_from_trusted_proxies` leaves in the scope."""
    if not settings.start_rate_limit_per_minute:
        return None
    return RateLimitConfig(
        rate_limit=("minute", settings.start_rate_limit_per_minute),
        check_throttle_handler=_is_start_request,
    )


def client_address_from_trusted_proxies(settings: Settings) -> DefineMiddleware | None:
    """The client address, for the rate limit and the logs: the connection's, or, when that is
    one of TRUSTED_PROXIES, X-Forwarded-For's rightmost entry that is not (uvicorn's own
    parsing, applied here rather than by the server, whose default trusts 127.0.0.1: the
    services run uvicorn with `--no-proxy-headers`). None when no proxy is trusted."""
    if not settings.trusted_proxies:
        return None
    trusted = [str(network) for network in settings.trusted_proxies]
    # uvicorn's ASGI types and Litestar's spell the same protocol apart.
    return DefineMiddleware(ProxyHeadersMiddleware, trusted_hosts=trusted)  # type: ignore[arg-type]


def security_headers(*, docs_path: str) -> BeforeMessageSendHookHandler:
    """A hook on every response the app sends, errors and redirects included: the usual
    headers against sniffing, framing and leaking referrers, and a policy that lets nothing
    load, except on the OpenAPI pages under `docs_path`."""
    docs_prefix = f"{docs_path.rstrip('/')}/"

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        message.setdefault("headers", [])
        headers = MutableScopeHeaders.from_message(message)
        for name, value in SECURITY_HEADERS.items():
            headers.setdefault(name, value)
        path: str = scope.get("path", "")
        if path != docs_path and not path.startswith(docs_prefix):
            headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)

    return add_headers


async def _is_start_request(request: Request[Any, Any, Any]) -> bool:
    return starts_or_changes_work(request)


def encoded(secret: SecretStr | None) -> bytes | None:
    return secret.get_secret_value().encode() if secret is not None else None


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> bytes | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token.encode()
