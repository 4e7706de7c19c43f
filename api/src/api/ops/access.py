"""Who may use the operators' routes (/ops): the holder of OPS_TOKEN, and no one else, whatever
API_TOKEN and API_READ_TOKEN say. Operators see every job's arguments and can retry or cancel
any of them, a power no reader or import starter needs; unset, the routes answer 401 to all.

The token is one for all operators; `X-Operator` names the person behind a request (the web
console sends its signed-in operator's name), so that every change is logged with who asked
for it. It is taken on trust from the token's holder, and only ever logged.
"""

import hmac
import re
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from api.errors import Unauthorized
from api.security import REALM, bearer_token, encoded
from api.settings import Settings

OPERATOR_HEADER = "x-operator"
# A name, an email address or a login: nothing that could forge a log line.
OPERATOR_NAME = re.compile(r"^[\w.@+ -]{1,64}$")
# Who a request was, when it names no operator.
UNNAMED_OPERATOR = "ops-token"


async def ops_token_guard(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Every /ops route needs `Authorization: Bearer <OPS_TOKEN>`, compared in constant time."""
    if connection.scope.get("method") == "OPTIONS":
        return  # says which methods a path takes, as on every other route; nothing more
    settings: Settings = connection.app.state.settings
    token = encoded(settings.ops_token)
    presented = bearer_token(connection)
    if presented is None:
        raise Unauthorized(
            "the operators' routes need an `Authorization: Bearer <OPS_TOKEN>` header",
            headers={"WWW-Authenticate": REALM},
        )
    if token is None or not hmac.compare_digest(presented, token):
        raise Unauthorized(
            "the bearer token is not OPS_TOKEN (or OPS_TOKEN is not set: the operators' "
            "routes are closed)",
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )


def operator_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The operator a request names in X-Operator, for the log; `ops-token` when it names none
    (or a name that is not one)."""
    name = connection.headers.get(OPERATOR_HEADER, "").strip()
    return name if OPERATOR_NAME.match(name) else UNNAMED_OPERATOR
