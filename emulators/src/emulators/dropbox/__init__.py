"""A Dropbox API v2 emulator for tests and demos: the shared-link routes a public-folder importer
uses (get_shared_link_metadata, list_folder, list_folder/continue, get_shared_link_file) and the
web link with dl=1 that downloads the whole folder as a zip.

from emulators.dropbox import DropboxEmulatorServer, DropboxFixture

with DropboxEmulatorServer(DropboxFixture(spec)) as dropbox:
    dropbox.base_url, dropbox.fixture.link("photos")
"""

from emulators.dropbox.app import DropboxEmulatorApp, build_app
from emulators.dropbox.faults import FaultPlan, FaultRule
from emulators.dropbox.fixture import (
    DropboxFixture,
    DropboxItem,
    ExpectedFile,
    SharedFolder,
    SharedLink,
    content_hash,
)
from emulators.dropbox.server import DropboxEmulatorServer
from emulators.dropbox.state import EmulatorSettings, EmulatorState

__all__ = [
    "DropboxEmulatorApp",
    "DropboxEmulatorServer",
    "DropboxFixture",
    "DropboxItem",
    "EmulatorSettings",
    "EmulatorState",
    "ExpectedFile",
    "FaultPlan",
    "FaultRule",
    "SharedFolder",
    "SharedLink",
    "build_app",
    "content_hash",
]
