"""Dropbox's own test-only control endpoint: `GET /_emulator/fixture`, with the fixture's links.
Health, stats, faults and settings are shared, see `emulators.common.control`."""

from __future__ import annotations

from typing import Any

from emulators.common.asgi import Receive
from emulators.dropbox.state import EmulatorState


async def dropbox_control_endpoint(
    state: EmulatorState, path: str, method: str, receive: Receive
) -> dict[str, Any] | None:
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
    return None
