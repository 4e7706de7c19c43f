"""Test-only control endpoints under `/_emulator/`, the part every emulator has: health, stats,
faults and settings. An emulator adds its own (its fixture, per-file flags) as `own_endpoint`.

These speak the project's own error format (`{"error": ..., "detail": ...}`), not the emulated
service's, and need no credentials: they are not part of the emulated service and are never
counted in the stats.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from emulators.common.asgi import Receive, Request, Send, read_body, send_json
from emulators.common.faults import BaseFaultRule, FaultPlan
from emulators.common.state import Counters, LiveSettings

PREFIX = "/_emulator"


class LiveState(Protocol):
    """What the shared endpoints read and change in an emulator's state."""

    @property
    def stats(self) -> Counters: ...

    @property
    def faults(self) -> FaultPlan[Any]: ...

    @property
    def settings(self) -> LiveSettings: ...


# (path below PREFIX, method, receive) → the JSON answer, or None for a path that is not one of
# the emulator's own (a 404).
OwnEndpoint = Callable[[str, str, Receive], Awaitable[Any]]


class ControlError(Exception):
    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


async def read_json_object(receive: Receive) -> dict[str, Any]:
    raw = await read_body(receive)
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise ControlError(400, "invalid_json", str(exc)) from None
    if not isinstance(body, dict):
        raise ControlError(400, "invalid_json", "expected a JSON object")
    return body


async def _dispatch(
    request: Request,
    receive: Receive,
    state: LiveState,
    fault_rule: type[BaseFaultRule],
    own_endpoint: OwnEndpoint,
) -> Any:
    path, method = request.path[len(PREFIX) :], request.method
    if path == "/health" and method == "GET":
        return {"status": "ok"}
    if path == "/stats":
        if method == "DELETE":
            state.stats.reset()
        elif method != "GET":
            raise ControlError(405, "method_not_allowed", method)
        return state.stats.to_json()
    if path == "/faults":
        if method == "POST":
            body = await read_json_object(receive)
            rules = [fault_rule.from_json(rule) for rule in body.get("rules", [])]
            state.faults.replace(rules, body.get("seed"))
        elif method == "DELETE":
            state.faults.clear()
        elif method != "GET":
            raise ControlError(405, "method_not_allowed", method)
        return state.faults.to_json()
    if path == "/settings":
        if method in ("POST", "PATCH"):
            state.settings.update(await read_json_object(receive))
        elif method != "GET":
            raise ControlError(405, "method_not_allowed", method)
        return state.settings.to_json()
    answer = await own_endpoint(path, method, receive)
    if answer is None:
        raise ControlError(404, "not_found", request.path)
    return answer


async def handle_control(
    request: Request,
    receive: Receive,
    send: Send,
    state: LiveState,
    fault_rule: type[BaseFaultRule],
    own_endpoint: OwnEndpoint,
) -> None:
    """Answer one `/_emulator/...` request; `fault_rule` parses the rules POSTed to /faults."""
    try:
        body = await _dispatch(request, receive, state, fault_rule, own_endpoint)
    except ControlError as exc:
        await send_json(send, exc.status, {"error": exc.error, "detail": exc.detail})
        return
    except (ValueError, TypeError, KeyError) as exc:
        await send_json(send, 400, {"error": "invalid_request", "detail": str(exc)})
        return
    await send_json(send, 200, body)
