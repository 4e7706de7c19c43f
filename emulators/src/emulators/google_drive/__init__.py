"""A Google Drive API v3 emulator for tests and demos: files.list, files.get, alt=media, and the
key-less web endpoints (embeddedfolderview, uc, drive.usercontent.google.com/download).

from emulators.google_drive import DriveFixture, EmulatorServer

with EmulatorServer(DriveFixture.sample()) as drive:
    drive.base_url, drive.fixture.folder_id("Holiday photos")
"""

from emulators.google_drive.app import DriveEmulatorApp, build_app
from emulators.google_drive.content import Checksums
from emulators.google_drive.errors import DriveError
from emulators.google_drive.faults import FaultPlan, FaultRule
from emulators.google_drive.fixture import DriveFixture, DriveItem, ExpectedFile
from emulators.google_drive.paging import ShortPages
from emulators.google_drive.server import EmulatorServer
from emulators.google_drive.state import EmulatorSettings, EmulatorState

__all__ = [
    "Checksums",
    "DriveEmulatorApp",
    "DriveError",
    "DriveFixture",
    "DriveItem",
    "EmulatorServer",
    "EmulatorSettings",
    "EmulatorState",
    "ExpectedFile",
    "FaultPlan",
    "FaultRule",
    "ShortPages",
    "build_app",
]
