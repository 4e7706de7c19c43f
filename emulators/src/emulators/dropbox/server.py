"""The Dropbox emulator on 127.0.0.1 in a background thread, for tests (the runner is shared,
see `emulators.common.server`)."""

from __future__ import annotations

from emulators.common.server import FixtureServer
from emulators.dropbox.app import DropboxEmulatorApp, build_app
from emulators.dropbox.fixture import DropboxFixture
from emulators.dropbox.state import EmulatorState


class DropboxEmulatorServer(FixtureServer[DropboxFixture, EmulatorState]):
    """A Dropbox emulator on 127.0.0.1 in a background thread; `base_url` stands for the API,
    content and web hosts at once.

    with DropboxEmulatorServer(DropboxFixture(spec)) as dropbox:
        dropbox.base_url, dropbox.fixture.link("photos")
    """

    label = "Dropbox"
    app: DropboxEmulatorApp
    build_app = staticmethod(build_app)
