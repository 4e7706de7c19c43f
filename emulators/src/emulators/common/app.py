"""The front door of every emulator's ASGI app: lifespan events, then the `/_emulator/` control
endpoints, then the emulated API itself."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, Generic, TypeVar

from emulators.common.asgi import Receive, Request, Scope, Send, serve_lifespan
from emulators.common.control import PREFIX, LiveState, handle_control
from emulators.common.faults import BaseFaultRule

StateT = TypeVar("StateT", bound=LiveState)


class BaseEmulatorApp(Generic[StateT]):
    """An emulator as a plain ASGI callable; `state` is its whole world.

    A subclass names its `fault_rule` (to parse rules posted to `/_emulator/faults`), may add
    control endpoints of its own, and answers its API's requests in `serve`.
    """

    fault_rule: ClassVar[type[BaseFaultRule]]
    # Test-only routes under `/_emulator/` that stand in for the service (e.g. Drive's HTML
    # index, which rclone reads): they wait `request_latency()` like the service's own routes.
    test_route_prefixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, state: StateT) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request.from_scope(scope)
        is_control = request.path.startswith(PREFIX + "/") and not request.path.startswith(
            self.test_route_prefixes
        )
        latency = 0.0 if is_control else self.request_latency()
        if latency > 0:
            await asyncio.sleep(latency)
        if await self.serve_own_test_route(request, send):
            return
        if request.path.startswith(PREFIX + "/"):
            await handle_control(
                request, receive, send, self.state, self.fault_rule, self.own_control_endpoint
            )
            return
        await self.serve(request, receive, send)

    def request_latency(self) -> float:
        """Seconds every request to the service waits before it is answered, as if the service
        were far away (the control endpoints never wait); 0 unless an emulator sets it."""
        return 0.0

    async def own_control_endpoint(self, path: str, method: str, receive: Receive) -> Any:
        """The answer of an `/_emulator/<path>` endpoint only this emulator has; None when there
        is no such endpoint (a 404)."""
        return None

    async def serve_own_test_route(self, request: Request, send: Send) -> bool:
        """Answer a test-only route of this emulator's own that is not a JSON control endpoint
        (e.g. Drive's HTML index under `/_emulator/index/`); False when `request` is not one."""
        return False

    async def serve(self, request: Request, receive: Receive, send: Send) -> None:
        """Answer one request to the emulated service."""
        raise NotImplementedError
