"""The Drive emulator on 127.0.0.1 in a background thread, for tests (the runner is shared, see
`emulators.common.server`)."""

from __future__ import annotations

from emulators.common.server import BackgroundServer
from emulators.google_drive.app import DriveEmulatorApp, build_app
from emulators.google_drive.faults import FaultPlan, FaultRule
from emulators.google_drive.fixture import DriveFixture
from emulators.google_drive.state import EmulatorSettings, EmulatorState, Stats


class EmulatorServer(BackgroundServer):
    """A Drive emulator on 127.0.0.1 in a background thread.

    with EmulatorServer(DriveFixture.sample()) as drive:
        folder_id = drive.fixture.folder_id("Holiday photos")
        httpx.get(f"{drive.base_url}/drive/v3/files",
                  params={"key": "k", "q": f"'{folder_id}' in parents"})
    """

    label = "Drive"
    app: DriveEmulatorApp

    def __init__(
        self,
        fixture: DriveFixture,
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

    def replace_fixture(self, fixture: DriveFixture) -> None:
        """Serve a changed Drive from now on (see EmulatorState.replace_fixture)."""
        self.fixture = fixture
        self.state.replace_fixture(fixture)

    @property
    def settings(self) -> EmulatorSettings:
        return self.app.state.settings

    @property
    def stats(self) -> Stats:
        return self.app.state.stats
