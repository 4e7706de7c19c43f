"""The ASGI application: routing, the API-key gate, the per-user quota, fault injection, and
error rendering.

The API routes answer in Google's JSON error format; the key-less web routes (which stand for
drive.google.com and drive.usercontent.google.com on the same address) answer in HTML.
"""

from __future__ import annotations

from typing import Any

from emulators.common.app import BaseEmulatorApp
from emulators.common.asgi import Receive, Request, Send, counting_responses, send_bytes, send_json
from emulators.google_drive import errors, index_routes, web_pages, web_routes
from emulators.google_drive.control import drive_control_endpoint
from emulators.google_drive.faults import FaultPlan, FaultRule
from emulators.google_drive.fixture import DriveFixture
from emulators.google_drive.routes import download, get_file, list_files
from emulators.google_drive.state import EmulatorSettings, EmulatorState

_FILES = "/drive/v3/files"
_MEDIA_FILES = "/download/drive/v3/files"
_WEB_ROUTES = {
    "/embeddedfolderview": "web_list",
    "/uc": "web_media",
    "/download": "web_media",
}


def _route(request: Request) -> tuple[str, str | None] | None:
    """(route kind, file id) for a Drive path, None for paths Drive does not serve."""
    path = request.path
    web_kind = _WEB_ROUTES.get(path)
    if web_kind is not None:
        return web_kind, request.query.get("id") or None
    if path in (_FILES, _FILES + "/"):
        return "list", None
    for prefix in (_FILES + "/", _MEDIA_FILES + "/"):
        if path.startswith(prefix):
            file_id = path[len(prefix) :]
            if not file_id or "/" in file_id:
                return None
            return ("media" if request.query.get("alt") == "media" else "get"), file_id
    return None


def _pretty(request: Request) -> bool:
    # Google pretty-prints unless prettyPrint=false.
    return request.query.get("prettyPrint", "true").lower() != "false"


async def _send_drive_error(send: Send, error: errors.DriveError, pretty: bool) -> None:
    await send_json(send, error.code, error.body(), pretty, error.headers)


def _check_caller(request: Request, settings: EmulatorSettings) -> str:
    """Refuse a caller Google would refuse; else who it is, for its quota: the OAuth user (its
    token), else the `quotaUser` it names, else its API key. (*chosen*: Google counts a key's
    callers without quotaUser by their IP address; an emulator's callers share one host.)"""
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    token = token or request.query.get("access_token") or request.query.get("oauth_token") or ""
    if token:
        return f"token:{token}"
    key = request.query.get("key", "")
    if not key:
        raise errors.missing_api_key()
    if settings.accepted_keys is not None and key not in settings.accepted_keys:
        raise errors.invalid_api_key()
    if not settings.api_enabled:
        raise errors.access_not_configured()
    quota_user = request.query.get("quotaUser", "")
    return f"quotaUser:{key}:{quota_user}" if quota_user else f"key:{key}"


def _over_quota(state: EmulatorState, caller: str) -> errors.DriveError | None:
    """The rate-limit answer when `caller` has no request left in its bucket, else None."""
    settings = state.settings
    if state.quotas.take(caller, settings.rate_limit_per_s, settings.rate_limit_burst) is None:
        return None
    match settings.rate_limit_answer:
        case "rate_limit_exceeded":
            return errors.rate_limit_exceeded()
        case "too_many_requests":
            return errors.too_many_requests(None)
    return errors.user_rate_limit_exceeded()


class DriveEmulatorApp(BaseEmulatorApp[EmulatorState]):
    """A Google Drive v3 emulator as a plain ASGI callable; `state` is its whole world."""

    fault_rule = FaultRule
    test_route_prefixes = (index_routes.INDEX_PREFIX,)

    def request_latency(self) -> float:
        return self.state.settings.latency_ms / 1000

    async def own_control_endpoint(self, path: str, method: str, receive: Receive) -> Any:
        return await drive_control_endpoint(self.state, path, method, receive)

    async def serve_own_test_route(self, request: Request, send: Send) -> bool:
        if not request.path.startswith(index_routes.INDEX_PREFIX):
            return False
        await index_routes.serve_index(request, send, self.state)
        return True

    async def serve(self, request: Request, receive: Receive, send: Send) -> None:
        route = _route(request)
        if route is None:
            self.state.stats.requests["other"] += 1
            await send_bytes(send, 404, b"Not Found", b"text/plain; charset=UTF-8")
            return
        kind, file_id = route
        stats = self.state.stats
        stats.requests[kind] += 1
        if kind in ("media", "web_media") and file_id is not None:
            stats.media_requests_by_file[file_id] += 1

        if kind.startswith("web_"):
            counted_send = counting_responses(send, stats.responses, kind)
            try:
                await self._serve_web(request, counted_send, kind, file_id)
            except errors.DriveError as error:
                await web_routes.send_error_page(counted_send, error.code, error.headers)
            return
        counted_send = counting_responses(send, stats.responses, kind, stats.answers)
        try:
            await self._serve(request, counted_send, kind, file_id)
        except errors.DriveError as error:
            if error.answer is not None:
                stats.answers[f"{kind} {error.answer}"] += 1
            await _send_drive_error(counted_send, error, _pretty(request))

    async def _serve(self, request: Request, send: Send, kind: str, file_id: str | None) -> None:
        state = self.state
        if request.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed()
        caller = _check_caller(request, state.settings)
        refusal = _over_quota(state, caller)
        if refusal is not None:
            raise refusal
        alt = request.query.get("alt", "json")
        if alt not in ("json", "media") or (kind == "list" and alt == "media"):
            raise errors.invalid_value("alt")
        cut = state.faults.inject(kind, file_id, state.stats.faults_injected)
        if kind == "list":
            await send_json(send, 200, await list_files(request, state), _pretty(request))
        elif kind == "get" and file_id is not None:
            await send_json(send, 200, await get_file(request, state, file_id), _pretty(request))
        elif file_id is not None:
            await download(request, send, state, file_id, cut)

    async def _serve_web(
        self, request: Request, send: Send, kind: str, file_id: str | None
    ) -> None:
        state = self.state
        if request.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed()
        cut: FaultRule | None = None
        rule = state.faults.decide(kind, file_id)
        if rule is not None:
            if rule.fault == "download_quota_exceeded":
                # The web answer to a per-file quota is a page, with status 200.
                state.stats.faults_injected[rule.fault] += 1
                await web_routes.send_html(send, 200, web_pages.quota_exceeded())
                return
            if rule.fault != "cut_body":
                state.stats.faults_injected[rule.fault] += 1
                raise rule.error()
            cut = rule
        if kind == "web_list":
            await web_routes.folder_view(request, send, state)
        else:
            await web_routes.download(request, send, state, cut)


def build_app(
    fixture: DriveFixture,
    settings: EmulatorSettings | None = None,
    faults: FaultPlan[FaultRule] | None = None,
) -> DriveEmulatorApp:
    """An emulator app serving `fixture`; reach its state through `app.state`."""
    return DriveEmulatorApp(EmulatorState(fixture, settings, faults))
