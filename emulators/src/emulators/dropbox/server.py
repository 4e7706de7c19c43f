"""Running the Dropbox emulator under uvicorn, in a background thread for tests."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from emulators.dropbox.app import DropboxEmulatorApp, build_app
from emulators.dropbox.faults import FaultPlan, FaultRule
from emulators.dropbox.fixture import DropboxFixture
from emulators.dropbox.state import EmulatorSettings, EmulatorState, Stats
from emulators.google_drive.server import uvicorn_config


class DropboxEmulatorServer:
    """A Dropbox emulator on 127.0.0.1 in a background thread; `base_url` stands for the API,
    content and web hosts at once.

    with DropboxEmulatorServer(DropboxFixture(spec)) as dropbox:
        dropbox.base_url, dropbox.fixture.link("photos")
    """

    def __init__(
        self,
        fixture: DropboxFixture,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        settings: EmulatorSettings | None = None,
        faults: FaultPlan | None = None,
        log_level: str = "warning",
    ) -> None:
        self.fixture = fixture
        self.app: DropboxEmulatorApp = build_app(fixture, settings, faults)
        self._host = host
        self._port = port
        self._log_level = log_level
        self._socket: socket.socket | None = None
        self._bound_port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> EmulatorState:
        return self.app.state

    @property
    def settings(self) -> EmulatorSettings:
        return self.app.state.settings

    @property
    def faults(self) -> FaultPlan:
        return self.app.state.faults

    @property
    def stats(self) -> Stats:
        return self.app.state.stats

    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("the emulator has not been started")
        return self._bound_port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def set_faults(self, *rules: FaultRule, seed: int | None = None) -> None:
        """Replace the active fault rules (no rules: no faults)."""
        self.faults.replace(rules, seed)  # type: ignore[arg-type]

    def start(self, timeout: float = 10.0) -> DropboxEmulatorServer:
        if self._thread is not None:
            raise RuntimeError("the emulator is already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        sock.set_inheritable(True)
        self._socket = sock
        self._bound_port = int(sock.getsockname()[1])
        config = uvicorn_config(self.app, log_level=self._log_level, timeout_graceful_shutdown=2)  # type: ignore[arg-type]
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"dropbox-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the Dropbox emulator did not start")
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

    def __enter__(self) -> DropboxEmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
