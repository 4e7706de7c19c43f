"""Drive's own test-only control endpoints: `GET /_emulator/fixture` and the per-file flags and
download-quota window at `/_emulator/files/<id>`. Health, stats, faults and settings are shared, see
`emulators.common.control`."""

from __future__ import annotations

from typing import Any

from emulators.common import control
from emulators.common.asgi import Receive
from emulators.google_drive.state import EmulatorState


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


async def drive_control_endpoint(
    state: EmulatorState, path: str, method: str, receive: Receive
) -> dict[str, Any] | None:
    if path == "/fixture" and method == "GET":
        return _fixture_summary(state)
    if path.startswith("/files/"):
        file_id = path[len("/files/") :]
        item = state.fixture.get(file_id)
        if item is None:
            raise control.ControlError(404, "not_found", f"no file {file_id}")
        if method in ("POST", "PATCH"):
            return state.set_file_flags(file_id, await control.read_json_object(receive))
        if method != "GET":
            raise control.ControlError(405, "method_not_allowed", method)
        return state.file_controls(item)
    return None
