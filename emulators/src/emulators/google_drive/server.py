"""Running the emulator under uvicorn, in a background thread for tests or in the foreground."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from emulators.google_drive.app import DriveEmulatorApp, build_app
from emulators.google_drive.faults import FaultPlan, FaultRule
from emulators.google_drive.fixture import DriveFixture
from emulators.google_drive.routes import BodyCut
from emulators.google_drive.state import EmulatorSettings, EmulatorState, Stats


class _HideIntendedCuts(logging.Filter):
    """A cut body is raised on purpose; keep its traceback out of the server log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], BodyCut))


def quiet_intended_cuts() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideIntendedCuts) for f in logger.filters):
        logger.addFilter(_HideIntendedCuts())


def uvicorn_config(app: DriveEmulatorApp, **options: Any) -> uvicorn.Config:
    quiet_intended_cuts()
    options.setdefault("log_level", "warning")
    options.setdefault("access_log", False)
    return uvicorn.Config(app, lifespan="on", **options)


class EmulatorServer:
    """A Drive emulator on 127.0.0.1 in a background thread.

    with EmulatorServer(DriveFixture.sample()) as drive:
        folder_id = drive.fixture.folder_id("Holiday photos")
        httpx.get(f"{drive.base_url}/drive/v3/files",
                  params={"key": "k", "q": f"'{folder_id}' in parents"})
    """

    def __init__(
        self,
        fixture: DriveFixture,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        settings: EmulatorSettings | None = None,
        faults: FaultPlan | None = None,
        log_level: str = "warning",
    ) -> None:
        self.fixture = fixture
        self.app = build_app(fixture, settings, faults)
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
        self.faults.replace(rules, seed)

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        if self._thread is not None:
            raise RuntimeError("the emulator is already started")
        # Binding here, before the thread starts, gives a known port with no race for it.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        sock.set_inheritable(True)
        self._socket = sock
        self._bound_port = int(sock.getsockname()[1])
        config = uvicorn_config(self.app, log_level=self._log_level, timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"drive-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the Drive emulator did not start")
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

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
