"""The web service: `uvicorn web.app:app`. Pages rendered with Jinja, live parts with htmx.

It reaches the data only through the API (`API_URL`), never the database.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from jinja2 import Environment, FileSystemLoader
from litestar import Litestar, Request, Response
from litestar.datastructures import MutableScopeHeaders, State
from litestar.di import Provide
from litestar.exceptions import (
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
)
from litestar.plugins.htmx import HTMXPlugin, HTMXRequest
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.template.config import TemplateConfig
from litestar.types import Message, Scope

from web.albums.endpoints import AlbumPages
from web.api_client import ApiClient, ApiError, ApiUnavailable
from web.archives.endpoints import ArchivePages
from web.auth import service as auth
from web.auth.endpoints import SignInPages
from web.formatting import FILTERS, GLOBALS
from web.fragments import wants_fragment
from web.health import healthz, readyz
from web.images.endpoints import ImagePages
from web.imports.endpoints import ImportPages
from web.ops.access import OperatorSignInRequired, operator_sign_in_required
from web.ops.endpoints import OpsPages
from web.ops.sign_in import OpsSignInPages
from web.settings import Settings, get_settings
from web.sources import SourceCatalogue
from web.syncs.endpoints import SyncPages

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
HTMX_FILE = STATIC_DIR / "vendor" / "htmx.min.js"
# Scripts and styles only from this site, so even a name that slipped through unescaped could
# not run; images from anywhere over http(s), as they come from the storage's presigned links.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: http: https:; script-src 'self'; "
    "style-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def template_engine() -> JinjaTemplateEngine:
    # Autoescaping on for every template, whatever its extension: names from a source are
    # untrusted text.
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(FILTERS)
    environment.globals.update(GLOBALS)
    return JinjaTemplateEngine.from_environment(environment)


async def provide_api(state: State, request: Request[Any, Any, Any]) -> ApiClient:
    client: ApiClient = state.api
    sources: SourceCatalogue = state.sources
    await sources.refresh(client)
    return client.for_visitor(request.client.host if request.client else None)


def api_unavailable(request: Request[Any, Any, Any], exc: ApiUnavailable) -> Response[Any]:
    logger.warning("web.api_unavailable path=%s %s", request.url.path, exc)
    if wants_fragment(HTMXRequest(request.scope)):
        # Leave the page as it is (a poll keeps polling) and say so in its status line.
        return Template(
            "_api_down_notice.html",
            status_code=503,
            headers={"HX-Retarget": "#connection-status", "HX-Reswap": "innerHTML"},
        )
    settings: Settings = request.app.state.settings
    return Template("api_down.html", context={"api_url": settings.api_url}, status_code=503)


def api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    if exc.status_code == 404:
        return error_page(404, "Not found", exc.detail)
    return error_page(exc.status_code, "The request could not be done", exc.detail)


def not_found(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[Any]:
    return error_page(404, "Not found", "There is no page at this address.")


def unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    logger.exception("web.unexpected_error path=%s", request.url.path, exc_info=exc)
    return error_page(500, "Something went wrong", "An unexpected error happened; it is logged.")


def sign_in_required(request: Request[Any, Any, Any], exc: auth.SignInRequired) -> Response[Any]:
    """To the sign-in page, and back to `next_path` after it; htmx follows HX-Redirect."""
    target = auth.sign_in_url(exc.next_path)
    if HTMXRequest(request.scope).htmx:
        return Response(None, status_code=401, headers={"HX-Redirect": target})
    return Redirect(target, status_code=HTTP_303_SEE_OTHER)


def forbidden(request: Request[Any, Any, Any], exc: PermissionDeniedException) -> Response[Any]:
    # The CSRF middleware's refusal: a form from another site, or from a page so old that its
    # token no longer matches the cookie.
    logger.warning("web.forbidden path=%s %s", request.url.path, exc.detail)
    return error_page(
        403,
        "The form could not be sent",
        "It did not carry this site's security token: reload the page and send it again.",
    )


def too_many_sign_ins(
    request: Request[Any, Any, Any], exc: TooManyRequestsException
) -> Response[Any]:
    retry_after = (exc.headers or {}).get("RateLimit-Reset", "60")
    page = error_page(
        429, "Too many attempts", f"Too many sign-in attempts: try again in {retry_after} s."
    )
    page.headers["Retry-After"] = retry_after
    return page


def error_page(status_code: int, heading: str, detail: str) -> Template:
    return Template(
        "error.html", context={"heading": heading, "detail": detail}, status_code=status_code
    )


SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Our own addresses may be passed along inside the site, to no one else.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # One URL answers with a page or an htmx fragment: caches must keep them apart.
    "Vary": "HX-Request",
}


def security_headers(message: Message, scope: Scope) -> None:
    """On every response, error pages and static files included."""
    if message["type"] != "http.response.start":
        return
    message.setdefault("headers", [])
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)


def create_app(
    settings: Settings | None = None, *, api_transport: httpx.AsyncBaseTransport | None = None
) -> Litestar:
    """`api_transport` replaces the network under the API client (tests stand in an API)."""
    settings = settings or get_settings()
    if not HTMX_FILE.exists():
        logger.warning(
            "web.htmx_missing %s: pages work without live updates; run `make assets`", HTMX_FILE
        )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        token = settings.api_token.get_secret_value() if settings.api_token else None
        async with httpx.AsyncClient(base_url=settings.api_url, transport=api_transport) as http:
            app.state.api = ApiClient(http, token=token)
            app.state.settings = settings
            app.state.sources = SourceCatalogue()
            app.state.sign_in_enabled = auth.sign_in_enabled(settings)
            app.state.ops_token = (
                settings.ops_token.get_secret_value() if settings.ops_token else None
            )
            app.state.sign_in_failures = auth.SignInFailures()
            yield

    key = auth.secret_key(settings)
    sessions = (
        [auth.session_config(settings, key).middleware, auth.sign_in_rate_limit().middleware]
        if auth.sessions_enabled(settings)
        else []
    )
    # Outermost, so that the sign-in limit and the API client see the visitor's address.
    client_address = auth.client_address_from_trusted_proxies(settings)
    return Litestar(
        route_handlers=[
            SignInPages,
            OpsSignInPages,
            OpsPages,
            ImportPages,
            SyncPages,
            ImagePages,
            ArchivePages,
            AlbumPages,
            healthz,
            readyz,
            create_static_files_router(path="/static", directories=[STATIC_DIR]),
        ],
        dependencies={"api": Provide(provide_api)},
        plugins=[HTMXPlugin()],
        lifespan=[lifespan],
        middleware=[*([client_address] if client_address else []), *sessions],
        csrf_config=auth.csrf_config(settings, key),
        guards=[auth.sign_in_guard(settings)],
        template_config=TemplateConfig(instance=template_engine()),
        exception_handlers={
            ApiUnavailable: api_unavailable,
            ApiError: api_error,
            NotFoundException: not_found,
            auth.SignInRequired: sign_in_required,
            OperatorSignInRequired: operator_sign_in_required,
            PermissionDeniedException: forbidden,
            TooManyRequestsException: too_many_sign_ins,
            HTTP_500_INTERNAL_SERVER_ERROR: unexpected,
        },
        before_send=[security_headers],
    )


app = create_app()
