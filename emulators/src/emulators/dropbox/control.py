"""Test-only control endpoints under `/_emulator/`: faults, settings, stats, the fixture's links.

They speak the project's error format (`{"error": ..., "detail": ...}`), need no credentials,
and are never counted in the stats.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from emulators.dropbox.faults import FaultRule
from emulators.google_drive.asgi import Receive, Request, Send, read_body, send_json

if TYPE_CHECKING:
    from emulators.dropbox.state import EmulatorState

PREFIX = "/_emulator"


class _ControlError(Exception):
    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


async def _json_object(receive: Receive) -> dict[str, Any]:
    try:
        body = json.loads(await read_body(receive) or b"{}")
    except ValueError as exc:
        raise _ControlError(400, "invalid_json", str(exc)) from None
    if not isinstance(body, dict):
        raise _ControlError(400, "invalid_json", "expected a JSON object")
    return body


async def _dispatch(request: Request, receive: Receive, state: EmulatorState) -> Any:
    path, method = request.path[len(PREFIX) :], request.method
    if path == "/health" and method == "GET":
        return {"status": "ok"}
    if path == "/fixture" and method == "GET":
        return {
            "seed": state.fixture.seed,
            "items": len(state.fixture),
            "shared_folders": [
                {
                    "name": shared.item.name,
                    "id": shared.item.id,
                    "link": shared.link.url(),
                    "password": shared.link.password is not None,
                }
                for shared in state.fixture.shared
            ],
        }
    if path == "/stats":
        if method == "DELETE":
            state.stats.reset()
        elif method != "GET":
            raise _ControlError(405, "method_not_allowed", method)
        return state.stats.to_json()
    if path == "/faults":
        if method == "POST":
            body = await _json_object(receive)
            rules = [FaultRule.from_json(rule) for rule in body.get("rules", [])]
            state.faults.replace(rules, body.get("seed"))  # type: ignore[arg-type]
        elif method == "DELETE":
            state.faults.clear()
        elif method != "GET":
            raise _ControlError(405, "method_not_allowed", method)
        return state.faults.to_json()
    if path == "/settings":
        if method in ("POST", "PATCH"):
            state.settings.update(await _json_object(receive))
        elif method != "GET":
            raise _ControlError(405, "method_not_allowed", method)
        return state.settings.to_json()
    raise _ControlError(404, "not_found", request.path)


async def handle_control(
    request: Request, receive: Receive, send: Send, state: EmulatorState
) -> None:
    try:
        body = await _dispatch(request, receive, state)
    except _ControlError as exc:
        await send_json(send, exc.status, {"error": exc.error, "detail": exc.detail})
        return
    except (ValueError, TypeError, KeyError) as exc:
        await send_json(send, 400, {"error": "invalid_request", "detail": str(exc)})
        return
    await send_json(send, 200, body)
