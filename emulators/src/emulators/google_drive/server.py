"""The Drive emulator on 127.0.0.1 in a background thread, for tests (the runner is shared, see
`emulators.common.server`)."""

from __future__ import annotations

from emulators.common.server import FixtureServer
from emulators.google_drive.app import DriveEmulatorApp, build_app
from emulators.google_drive.fixture import DriveFixture
from emulators.google_drive.state import EmulatorState


class EmulatorServer(FixtureServer[DriveFixture, EmulatorState]):
    """A Drive emulator on 127.0.0.1 in a background thread.

    with EmulatorServer(DriveFixture.sample()) as drive:
        folder_id = drive.fixture.folder_id("Holiday photos")
        httpx.get(f"{drive.base_url}/drive/v3/files",
                  params={"key": "k", "q": f"'{folder_id}' in parents"})
    """

    label = "Drive"
    app: DriveEmulatorApp
    build_app = staticmethod(build_app)

    def replace_fixture(self, fixture: DriveFixture) -> None:
        """Serve a changed Drive from now on (see EmulatorState.replace_fixture)."""
        self.fixture = fixture
        self.state.replace_fixture(fixture)
