"""The operators' sign-in and sign-out pages (/ops/sign-in, /ops/sign-out): the one part of the
console open to a visitor who is not an operator yet, so it lives apart from the pages behind
`access.operator_guard`. An operator signs in with a name (for the API's log) and OPS_PASSWORD;
failed attempts share the site's sign-in throttle, and with the console off these pages are 404
like the rest of it.
"""

import logging
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, TooManyRequestsException
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from web.auth import service as auth
from web.ops import access
from web.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class OperatorSignInForm:
    name: str = ""
    password: str = ""
    next: str = "/ops"


class OpsSignInPages(Controller):
    @get(auth.OPS_SIGN_IN_PATH)
    async def operator_sign_in_form(
        self, request: Request[Any, Any, Any], next: FromQuery[str] = "/ops"
    ) -> Response[Any]:
        """The operators' sign-in form: a name (for the log) and OPS_PASSWORD."""
        _console_on(request)
        target = _ops_next(next)
        if access.operator_of(request):
            return Redirect(target, status_code=HTTP_303_SEE_OTHER)
        return Template("ops/sign_in.html", context={"next": target})

    @post(auth.OPS_SIGN_IN_PATH)
    async def operator_sign_in(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[OperatorSignInForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        """Sign in as an operator; back to the console page that asked for it."""
        settings = _console_on(request)
        target = _ops_next(data.next)
        failures: auth.SignInFailures = request.app.state.sign_in_failures
        if wait := failures.seconds_refused():
            logger.warning("web.ops_sign_in_throttled client=%s", request.client)
            raise TooManyRequestsException(headers={"RateLimit-Reset": str(wait)})
        name = data.name.strip()
        error = None
        if not access.OPERATOR_NAME.match(name):
            error = "Give your name: letters, digits, spaces and . @ + - (up to 64)."
        elif not access.ops_password_matches(settings, data.password):
            failures.record()
            logger.warning("web.ops_sign_in_refused client=%s", request.client)
            error = "That password is not right."
        if error:
            context = {"next": target, "name": name, "form_error": error}
            return Template("ops/sign_in.html", context=context, status_code=401)
        logger.warning("web.ops_signed_in operator=%s client=%s", name, request.client)
        # A fresh session, so nothing from before carries over; an operator may use the site.
        request.set_session({"signed_in": True, access.OPERATOR_KEY: name})
        return Redirect(target, status_code=HTTP_303_SEE_OTHER)

    @post("/ops/sign-out")
    async def operator_sign_out(self, request: Request[Any, Any, Any]) -> Redirect:
        """Forget the operator's session."""
        request.clear_session()
        return Redirect(auth.OPS_SIGN_IN_PATH, status_code=HTTP_303_SEE_OTHER)


def _console_on(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    if not access.console_enabled(settings):
        raise NotFoundException()
    return settings


def _ops_next(next_path: str | None) -> str:
    target = auth.safe_next(next_path)
    return target if target == "/ops" or target.startswith("/ops/") else "/ops"
