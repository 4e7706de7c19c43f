"""Rules every route obeys beyond its own handler, read from the routes the app registered so
that a route added later follows them without a change here: a query parameter the route does
not take is refused (422, naming it), and an OPTIONS answer's `Allow` names every method of the
path.

Litestar builds a path's OPTIONS handler when the path's first handler is registered, and its
`Allow` stays that first set: `/imports` said `GET, OPTIONS` without its POST. The hook below
answers from the finished routes instead.
"""

from collections.abc import Mapping
from typing import Any

from litestar import Litestar, Request
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import SerializationException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.routes import HTTPRoute
from litestar.types import BeforeMessageSendHookHandler, Guard, Message, Scope

from api.errors import InvalidInput, UnsupportedMediaType


def http_routes(app: Litestar) -> list[HTTPRoute]:
    return [route for route in app.routes if isinstance(route, HTTPRoute)]


def query_parameters_by_handler(app: Litestar) -> dict[int, frozenset[str]]:
    """The query parameters each handler takes (as a client spells them), by the handler's id:
    what Litestar's own parameter model for the handler expects, its dependencies' included."""
    return {
        id(handler): frozenset(p.field_alias for p in model.expected_query_params)
        for route in http_routes(app)
        for handler, model in route.route_handler_map.values()
    }


def methods_by_path(app: Litestar) -> dict[str, str]:
    """Every path's methods, as an `Allow` header lists them."""
    return {route.path: ", ".join(sorted(route.methods)) for route in http_routes(app)}


def refuse_unknown_query_parameters(known: Mapping[int, frozenset[str]]) -> Guard:
    """A guard for every route: a query parameter the route does not take is request
    validation (422) naming it, rather than silently ignored (a misspelt filter would
    otherwise list everything). `known` is filled once the app has registered its routes."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        # The registered handler: a guard is handed a copy of it.
        taken = known.get(id(connection.scope["route_handler"]))
        if taken is None:
            return
        unknown = sorted(set(connection.query_params) - taken)
        if unknown:
            names = ", ".join(f"`{name}`" for name in unknown)
            offered = ", ".join(f"`{name}`" for name in sorted(taken)) or "none"
            raise InvalidInput(
                f"unknown query parameter {names}: this route takes {offered}",
                field=unknown[0],
            )

    return guard


def allow_every_method(methods: Mapping[str, str]) -> BeforeMessageSendHookHandler:
    """A hook on every response: an OPTIONS answer's `Allow` lists all the methods of its path
    (`methods`, filled once the app has registered its routes)."""

    async def fix_allow(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
            return
        handler = scope.get("route_handler")
        paths = getattr(handler, "paths", ())
        allow = next((methods[path] for path in paths if path in methods), None)
        message.setdefault("headers", [])
        headers = MutableScopeHeaders.from_message(message)
        if allow is not None and "allow" in headers:
            headers["Allow"] = allow

    return fix_allow


class ApiRequest(Request[Any, Any, Any]):
    """The app's request class: a body that is not JSON, or not UTF-8 (which msgspec reports
    as a UnicodeDecodeError that Litestar does not expect), or nested deeper than msgspec's
    decoder recurses (a RecursionError, which would otherwise be a 500), is request
    validation like any other bad input. A body is read only when declared
    `application/json`: a `text/plain` or form POST, which a browser sends cross-site without
    asking first, is refused (415) before its body is looked at."""

    async def json(self) -> Any:
        media_type, _ = self.content_type
        if media_type != "application/json":
            raise UnsupportedMediaType(
                "the body must be sent as `Content-Type: application/json`"
                + (f", not `{media_type}`" if media_type else "; the request has none"),
                field="Content-Type",
            )
        try:
            return await super().json()
        except (SerializationException, UnicodeDecodeError) as exc:
            raise ValidationException(f"the body is not valid UTF-8 JSON: {exc}") from None
        except RecursionError:
            raise ValidationException("the body is nested too deeply to be read") from None
