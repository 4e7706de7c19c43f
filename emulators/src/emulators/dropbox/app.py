"""The ASGI application: routing, authentication, fault injection, and error rendering.

One address stands for api.dropboxapi.com (RPC), content.dropboxapi.com (downloads) and
www.dropbox.com (the links and their zips), as the Drive emulator stands for Google's hosts.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from emulators.common.app import BaseEmulatorApp
from emulators.common.asgi import Receive, Request, Send, counting_responses, read_body, send_bytes
from emulators.dropbox import errors, routes, web
from emulators.dropbox.control import dropbox_control_endpoint
from emulators.dropbox.faults import FaultPlan, FaultRule
from emulators.dropbox.fixture import DropboxFixture
from emulators.dropbox.state import EmulatorSettings, EmulatorState

_RPC = {
    "/2/sharing/get_shared_link_metadata": ("metadata", routes.METADATA),
    "/2/files/list_folder": ("list", routes.LIST_FOLDER),
    "/2/files/list_folder/continue": ("list_continue", routes.LIST_CONTINUE),
}
_CONTENT = {"/2/sharing/get_shared_link_file": ("file", routes.GET_FILE)}


def _route(request: Request) -> tuple[str, str] | None:
    """(route kind, API route name) for a path Dropbox serves, None otherwise."""
    path = request.path
    if path in _RPC:
        return _RPC[path]
    if path in _CONTENT:
        return _CONTENT[path]
    if path.startswith(web.ZIP_PREFIX):
        return "zip", "zip"
    if web.is_link_path(path):
        return "web", "web"
    return None


def check_caller(request: Request, settings: EmulatorSettings, route: str) -> str:
    """Bearer (a user's token) or Basic (an app's key and secret); both are allowed on the
    shared-link routes (reference notes B2). *chosen*: a Basic pair that is not an app's is
    answered like a bad token (401 invalid_access_token). Returns whom the rate limit counts:
    the token, or the app."""
    header = request.headers.get("authorization") or request.query.get("authorization") or ""
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if not scheme or not credentials:
        raise errors.missing_authorization(route)
    if scheme.lower() == "bearer":
        if settings.accepted_tokens is not None and credentials not in settings.accepted_tokens:
            raise errors.invalid_access_token()
        return f"token:{credentials}"
    if scheme.lower() == "basic":
        try:
            key, colon, secret = (
                base64.b64decode(credentials, validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            raise errors.bad_input(
                route, 'Invalid authorization value in HTTP header "Authorization"'
            ) from None
        if not colon or not key or not secret:
            raise errors.bad_input(
                route, 'Invalid authorization value in HTTP header "Authorization"'
            )
        if settings.accepted_apps is not None and settings.accepted_apps.get(key) != secret:
            raise errors.invalid_access_token()
        return f"app:{key}"
    raise errors.bad_input(route, 'Invalid authorization value in HTTP header "Authorization"')


async def _rpc_arg(request: Request, receive: Receive, route: str) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await read_body(receive)
    if content_type != "application/json":
        raise errors.bad_input(
            route,
            f'Bad HTTP "Content-Type" header: "{request.headers.get("content-type", "")}". '
            'Expecting one of "application/json", "application/json; charset=utf-8", '
            '"text/plain; charset=dropbox-cors-hack".',
        )
    try:
        arg = json.loads(body or b"null")
    except ValueError:
        raise errors.bad_input(route, "request body: could not decode input as JSON") from None
    if not isinstance(arg, dict):
        raise errors.bad_input(route, "request body: expected a JSON object")
    return arg


async def send_error(send: Send, error: errors.DropboxError) -> None:
    if isinstance(error.body, str):
        payload = error.body.encode()
    else:
        payload = json.dumps(error.body).encode()
    await send_bytes(send, error.status, payload, error.content_type, error.headers)


class DropboxEmulatorApp(BaseEmulatorApp[EmulatorState]):
    """A Dropbox API v2 emulator as a plain ASGI callable; `state` is its whole world."""

    fault_rule = FaultRule

    async def own_control_endpoint(self, path: str, method: str, receive: Receive) -> Any:
        return await dropbox_control_endpoint(self.state, path, method, receive)

    async def serve(self, request: Request, receive: Receive, send: Send) -> None:
        route = _route(request)
        stats = self.state.stats
        if route is None:
            stats.requests["other"] += 1
            await send_bytes(send, 404, b"Not Found", errors.TEXT_TYPE)
            return
        kind, name = route
        stats.requests[kind] += 1

        if kind in ("web", "zip"):
            counted_send = counting_responses(send, stats.responses, kind)
            await self._serve_web(request, receive, counted_send, kind)
            return
        counted_send = counting_responses(send, stats.responses, kind, stats.answers)
        try:
            await self._serve_api(request, receive, counted_send, kind, name)
        except errors.DropboxError as error:
            if error.answer is not None:
                stats.answers[f"{kind} {error.answer}"] += 1
            await send_error(counted_send, error)

    def _rate_limit(self, caller: str) -> None:
        """Refuse the request with a 429 when `caller` is past its rate limit."""
        retry_after = self.state.retry_after_if_limited(caller)
        if retry_after is None:
            return
        match self.state.settings.rate_limit_answer:
            case "too_many_requests_text":
                raise errors.too_many_requests_text(retry_after)
            case "too_many_write_operations":
                raise errors.too_many_requests(retry_after, "too_many_write_operations")
        raise errors.too_many_requests(retry_after)

    def _fault(self, kind: str, file_id: str | None) -> FaultRule | None:
        """The fault to inject, if any: an error is raised; a cut is returned for the body."""
        return self.state.faults.inject(kind, file_id, self.state.stats.faults_injected)

    async def _serve_api(
        self, request: Request, receive: Receive, send: Send, kind: str, name: str
    ) -> None:
        state = self.state
        allowed = ("POST", "GET") if kind == "file" else ("POST",)
        if request.method not in allowed:
            raise errors.DropboxError(405, "Method Not Allowed")
        self._rate_limit(check_caller(request, state.settings, name))
        if kind == "file":
            arg = routes.download_arg(request, await read_body(receive))
            file_id = self._file_id(arg)
            cut = self._fault(kind, file_id)
            await routes.get_shared_link_file(request, send, state, arg, cut)
            return
        arg = await _rpc_arg(request, receive, name)
        self._fault(kind, None)
        if kind == "metadata":
            result = await routes.get_shared_link_metadata(state, arg)
        elif kind == "list":
            result = await routes.list_folder(state, arg)
        else:
            result = await routes.list_folder_continue(state, arg)
        await send_bytes(send, 200, json.dumps(result).encode(), errors.JSON_TYPE)

    def _file_id(self, arg: dict[str, Any]) -> str | None:
        """The id of the file a download names, so fault rules can target files."""
        shared = self.state.fixture.resolve_link(str(arg.get("url", "")))
        path = arg.get("path")
        item = shared.find(path) if shared is not None and isinstance(path, str) else None
        return item.id if item is not None else None

    async def _serve_web(self, request: Request, receive: Receive, send: Send, kind: str) -> None:
        if request.method not in ("GET", "HEAD"):
            await web.send_error_page(send, 405)
            return
        try:
            cut = self._fault(kind, None)
        except errors.DropboxError as error:
            await web.send_error_page(send, error.status, error.headers)
            return
        if kind == "web":
            await web.link_page(request, send, self.state)
        else:
            await web.zip_download(request, receive, send, self.state, cut)


def build_app(
    fixture: DropboxFixture,
    settings: EmulatorSettings | None = None,
    faults: FaultPlan[FaultRule] | None = None,
) -> DropboxEmulatorApp:
    """An emulator app serving `fixture`; reach its state through `app.state`."""
    return DropboxEmulatorApp(EmulatorState(fixture, settings, faults))
