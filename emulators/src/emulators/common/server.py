"""Running an emulator under uvicorn: in a background thread for tests, or in the foreground
for demos."""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar, cast

import uvicorn

from emulators.common.asgi import Receive, Scope, Send
from emulators.common.downloads import BodyCut
from emulators.common.faults import BaseFaultRule, FaultPlan


class _HideIntendedCuts(logging.Filter):
    """A cut body is raised on purpose; keep its traceback out of the server log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], BodyCut))


def quiet_intended_cuts() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideIntendedCuts) for f in logger.filters):
        logger.addFilter(_HideIntendedCuts())


class _FaultyState(Protocol):
    @property
    def faults(self) -> FaultPlan[Any]: ...


class EmulatorApp(Protocol):
    """An emulator's ASGI app, whose `state` holds (among the rest) its fault plan."""

    @property
    def state(self) -> _FaultyState: ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


def uvicorn_config(app: EmulatorApp, **options: Any) -> uvicorn.Config:
    quiet_intended_cuts()
    options.setdefault("log_level", "warning")
    options.setdefault("access_log", False)
    return uvicorn.Config(app, lifespan="on", **options)


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host:port` (port 0: a free one), for uvicorn to serve on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def serve_in_foreground(
    app: EmulatorApp, *, host: str, port: int, log_level: str, announce: Callable[[str], None]
) -> int:
    """Serve `app` until interrupted, after `announce(base_url)`; the exit status of a CLI."""
    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        print(f"cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    announce(f"http://{host}:{sock.getsockname()[1]}")
    server = uvicorn.Server(uvicorn_config(app, log_level=log_level))
    server.run(sockets=[sock])
    return 0


class BackgroundServer:
    """An emulator app under uvicorn in a daemon thread, on a port known once started.

    Each emulator subclasses it: its constructor builds the app from a fixture, and `label`
    names the emulator in thread names and errors.
    """

    label = "emulator"

    def __init__(self, app: EmulatorApp, *, host: str, port: int, log_level: str) -> None:
        self.app = app
        self._host = host
        self._port = port
        self._log_level = log_level
        self._socket: socket.socket | None = None
        self._bound_port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> FaultPlan[Any]:
        return self.app.state.faults

    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("the emulator has not been started")
        return self._bound_port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def set_faults(self, *rules: BaseFaultRule, seed: int | None = None) -> None:
        """Replace the active fault rules (no rules: no faults)."""
        self.faults.replace(rules, seed)

    def start(self, timeout: float = 10.0) -> Self:
        if self._thread is not None:
            raise RuntimeError("the emulator is already started")
        # Binding here, before the thread starts, gives a known port with no race for it.
        sock = listening_socket(self._host, self._port)
        sock.set_inheritable(True)
        self._socket = sock
        self._bound_port = int(sock.getsockname()[1])
        config = uvicorn_config(self.app, log_level=self._log_level, timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"{self.label.lower()}-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {self.label} emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._socket = None
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


FixtureT = TypeVar("FixtureT")
StateT = TypeVar("StateT", bound=_FaultyState)


class FixtureServer(BackgroundServer, Generic[FixtureT, StateT]):
    """A `BackgroundServer` of an emulator serving a fixture. Each emulator's server names its
    app factory, `build_app(fixture, settings, faults)`, and its fixture's and state's types;
    the fixture, the app's state, its live settings and its counters are then reached the same
    way on every emulator.
    """

    build_app: ClassVar[Callable[..., EmulatorApp]]

    def __init__(
        self,
        fixture: FixtureT,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        settings: Any = None,
        faults: FaultPlan[Any] | None = None,
        log_level: str = "warning",
    ) -> None:
        self.fixture = fixture
        app = type(self).build_app(fixture, settings, faults)
        super().__init__(app, host=host, port=port, log_level=log_level)

    @property
    def state(self) -> StateT:
        return cast(StateT, self.app.state)

    @property
    def settings(self) -> Any:
        """The emulator's live settings (`EmulatorSettings`), which a test may change."""
        return cast(Any, self.state).settings

    @property
    def stats(self) -> Any:
        """The emulator's counters (`Stats`), as `GET /_emulator/stats` shows them."""
        return cast(Any, self.state).stats
