"""The Nextcloud emulator on 127.0.0.1 in a background thread, for tests (the runner is shared,
see `emulators.common.server`)."""

from __future__ import annotations

from emulators.common.server import FixtureServer
from emulators.nextcloud.app import NextcloudEmulatorApp, build_app
from emulators.nextcloud.fixture import NextcloudFixture
from emulators.nextcloud.state import EmulatorState


class NextcloudEmulatorServer(FixtureServer[NextcloudFixture, EmulatorState]):
    """A public-share WebDAV server on 127.0.0.1 in a background thread.

    with NextcloudEmulatorServer(NextcloudFixture(spec)) as nextcloud:
        nextcloud.link("photos")
    """

    label = "Nextcloud"
    app: NextcloudEmulatorApp
    build_app = staticmethod(build_app)

    def replace_fixture(self, fixture: NextcloudFixture) -> None:
        """The shares as their owner changed them (same seed: the same tokens and ids)."""
        self.fixture = fixture
        self.app.state.fixture = fixture

    def link(self, share: str, *, index_php: bool = False) -> str:
        """The link the share dialog gives (`/s/<token>`, or `/index.php/s/<token>`)."""
        base = f"{self.base_url}/index.php" if index_php else self.base_url
        return self.fixture.link(share, base)
