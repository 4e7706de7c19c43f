"""The sign-in page and signing out (only when API_TOKEN is set; the rules are in service.py)."""

import logging
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import TooManyRequestsException
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from web.auth import service as auth
from web.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class SignInForm:
    password: str = ""
    next: str = "/"


class SignInPages(Controller):
    @get(auth.SIGN_IN_PATH)
    async def sign_in_form(
        self, request: Request[Any, Any, Any], next: FromQuery[str] = "/"
    ) -> Response[Any]:
        """The sign-in form (only when API_TOKEN is set: otherwise there is nothing to sign
        in to)."""
        settings: Settings = request.app.state.settings
        target = auth.safe_next(next)
        if not auth.sign_in_enabled(settings) or auth.is_signed_in(request):
            return Redirect(target, status_code=HTTP_303_SEE_OTHER)
        return Template("sign_in.html", context={"next": target})

    @post(auth.SIGN_IN_PATH)
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[SignInForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        """Sign in with WEB_PASSWORD or API_TOKEN; back to the page that asked for it."""
        settings: Settings = request.app.state.settings
        target = auth.safe_next(data.next)
        if not auth.sign_in_enabled(settings):
            return Redirect(target, status_code=HTTP_303_SEE_OTHER)
        failures: auth.SignInFailures = request.app.state.sign_in_failures
        if wait := failures.seconds_refused():
            logger.warning("web.sign_in_throttled client=%s", request.client)
            raise TooManyRequestsException(headers={"RateLimit-Reset": str(wait)})
        if not auth.password_matches(settings, data.password):
            failures.record()
            logger.warning("web.sign_in_refused client=%s", request.client)
            context = {"next": target, "form_error": "That password is not right."}
            return Template("sign_in.html", context=context, status_code=401)
        # A fresh session on every sign-in, so no session from before it carries over.
        request.set_session({"signed_in": True})
        return Redirect(target, status_code=HTTP_303_SEE_OTHER)

    @post(auth.SIGN_OUT_PATH)
    async def sign_out(self, request: Request[Any, Any, Any]) -> Redirect:
        """Forget the session."""
        if auth.sign_in_enabled(request.app.state.settings):
            request.clear_session()
        return Redirect("/", status_code=HTTP_303_SEE_OTHER)
