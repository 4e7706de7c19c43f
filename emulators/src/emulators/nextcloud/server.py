"""The Nextcloud emulator on 127.0.0.1 in a background thread, for tests (the runner is shared,
see `emulators.common.server`)."""

from __future__ import annotations

from emulators.common.server import BackgroundServer
from emulators.nextcloud.app import NextcloudEmulatorApp, build_app
from emulators.nextcloud.faults import FaultPlan, FaultRule
from emulators.nextcloud.fixture import NextcloudFixture
from emulators.nextcloud.state import EmulatorSettings, EmulatorState, Stats


class NextcloudEmulatorServer(BackgroundServer):
    """A public-share WebDAV server on 127.0.0.1 in a background thread.

    with NextcloudEmulatorServer(NextcloudFixture(spec)) as nextcloud:
        nextcloud.link("photos")
    """

    label = "Nextcloud"
    app: NextcloudEmulatorApp

    def __init__(
        self,
        fixture: NextcloudFixture,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        settings: EmulatorSettings | None = None,
        faults: FaultPlan[FaultRule] | None = None,
        log_level: str = "warning",
    ) -> None:
        self.fixture = fixture
        super().__init__(
            build_app(fixture, settings, faults), host=host, port=port, log_level=log_level
        )

    @property
    def state(self) -> EmulatorState:
        return self.app.state

    @property
    def settings(self) -> EmulatorSettings:
        return self.app.state.settings

    @property
    def stats(self) -> Stats:
        return self.app.state.stats

    def replace_fixture(self, fixture: NextcloudFixture) -> None:
        """The shares as their owner changed them (same seed: the same tokens and ids)."""
        self.fixture = fixture
        self.app.state.fixture = fixture

    def link(self, share: str, *, index_php: bool = False) -> str:
        """The link the share dialog gives (`/s/<token>`, or `/index.php/s/<token>`)."""
        base = f"{self.base_url}/index.php" if index_php else self.base_url
        return self.fixture.link(share, base)
