"""Test-only control endpoints under `/_emulator/`: faults, settings, per-file flags, stats.

These speak the project's own error format (`{"error": ..., "detail": ...}`), not Google's, and
need no API key: they are not part of the emulated service and are never counted in the stats.
"""

from __future__ import annotations

import json
from typing import Any

from emulators.google_drive.asgi import Receive, Request, Send, read_body, send_json
from emulators.google_drive.faults import FaultRule
from emulators.google_drive.state import EmulatorState

PREFIX = "/_emulator"


class _ControlError(Exception):
    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


async def _json_object(receive: Receive) -> dict[str, Any]:
    raw = await read_body(receive)
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise _ControlError(400, "invalid_json", str(exc)) from None
    if not isinstance(body, dict):
        raise _ControlError(400, "invalid_json", "expected a JSON object")
    return body


def _fixture_summary(state: EmulatorState) -> dict[str, Any]:
    fixture = state.fixture
    return {
        "seed": fixture.seed,
        "items": len(fixture),
        "roots": [
            {
                "id": root.id,
                "name": root.name,
                "resource_key": root.resource_key,
                "link": fixture.link(root.path),
            }
            for root in fixture.roots
        ],
    }


async def _dispatch(request: Request, receive: Receive, state: EmulatorState) -> Any:
    path, method = request.path[len(PREFIX) :], request.method
    if path == "/health" and method == "GET":
        return {"status": "ok"}
    if path == "/fixture" and method == "GET":
        return _fixture_summary(state)
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
            state.faults.replace(rules, body.get("seed"))
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
    if path.startswith("/files/"):
        file_id = path[len("/files/") :]
        item = state.fixture.get(file_id)
        if item is None:
            raise _ControlError(404, "not_found", f"no file {file_id}")
        if method in ("POST", "PATCH"):
            return state.set_file_flags(file_id, await _json_object(receive))
        if method != "GET":
            raise _ControlError(405, "method_not_allowed", method)
        return state.file_flags(item)
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
