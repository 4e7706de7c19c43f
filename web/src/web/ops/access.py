"""Who may use the operators' console (/ops): with OPS_TOKEN set, an operator signed in at
/ops/sign-in with a name and OPS_PASSWORD (or OPS_TOKEN itself); everyone else is sent to
that page, and sees and changes nothing. Without OPS_TOKEN the console is off: /ops is 404.

The operator's name lives in the session (the encrypted cookie, as for every visitor) and is
passed to the API with each call, which logs it with every change."""

import hmac
import re
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER

from web.auth import service as auth
from web.settings import Settings

OPERATOR_KEY = "operator"
# Never sent in practice: the guard lets no request without an operator through.
UNNAMED = "unnamed"
# What the API takes in X-Operator (api/ops/access.py).
OPERATOR_NAME = re.compile(r"^[\w.@+ -]{1,64}$")


class OperatorSignInRequired(Exception):
    """The console needs a signed-in operator; `next_path` is where to come back to."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def console_enabled(settings: Settings) -> bool:
    return settings.ops_token is not None


def operator_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    session = connection.scope.get("session")
    name = session.get(OPERATOR_KEY) if isinstance(session, dict) else None
    return name if isinstance(name, str) and name else None


def ops_password_matches(settings: Settings, presented: str) -> bool:
    """OPS_PASSWORD or OPS_TOKEN, compared in constant time (every one)."""
    accepted = [s.get_secret_value() for s in (settings.ops_password, settings.ops_token) if s]
    given = presented.encode()
    return any([hmac.compare_digest(given, secret.encode()) for secret in accepted])


async def operator_guard(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Every console route but its sign-in: 404 with the console off, else an operator."""
    settings: Settings = connection.app.state.settings
    if not console_enabled(settings):
        raise NotFoundException()
    if operator_of(connection) is None:
        method = str(connection.scope.get("method", "GET"))
        path = connection.scope["path"] if method in auth.SAFE_METHODS else "/ops"
        raise OperatorSignInRequired(path)


def operator_sign_in_url(next_path: str) -> str:
    return f"{auth.OPS_SIGN_IN_PATH}?{urlencode({'next': next_path})}"


def operator_sign_in_required(
    request: Request[Any, Any, Any], exc: OperatorSignInRequired
) -> Response[Any]:
    """To the operators' sign-in; htmx (a poll whose session ended) follows HX-Redirect."""
    target = operator_sign_in_url(exc.next_path)
    if HTMXRequest(request.scope).htmx:
        return Response(None, status_code=401, headers={"HX-Redirect": target})
    return Redirect(target, status_code=HTTP_303_SEE_OTHER)
