"""The Dropbox emulator on 127.0.0.1 in a background thread, for tests (the runner is shared,
see `emulators.common.server`)."""

from __future__ import annotations

from emulators.common.server import BackgroundServer
from emulators.dropbox.app import DropboxEmulatorApp, build_app
from emulators.dropbox.faults import FaultPlan, FaultRule
from emulators.dropbox.fixture import DropboxFixture
from emulators.dropbox.state import EmulatorSettings, EmulatorState, Stats


class DropboxEmulatorServer(BackgroundServer):
    """A Dropbox emulator on 127.0.0.1 in a background thread; `base_url` stands for the API,
    content and web hosts at once.

    with DropboxEmulatorServer(DropboxFixture(spec)) as dropbox:
        dropbox.base_url, dropbox.fixture.link("photos")
    """

    label = "Dropbox"
    app: DropboxEmulatorApp

    def __init__(
        self,
        fixture: DropboxFixture,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        settings: EmulatorSettings | None = None,
        faults: FaultPlan[FaultRule] | None = None,
        log_level: str = "warning",
    ) -> None:
        self.fixture = fixture
        app = build_app(fixture, settings, faults)
        super().__init__(app, host=host, port=port, log_level=log_level)

    @property
    def state(self) -> EmulatorState:
        return self.app.state

    @property
    def settings(self) -> EmulatorSettings:
        return self.app.state.settings

    @property
    def stats(self) -> Stats:
        return self.app.state.stats
