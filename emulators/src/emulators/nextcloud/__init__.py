"""A Nextcloud / ownCloud / oCIS public-share emulator for tests and demos: the public WebDAV of
shares in the three shapes servers use (see `app`), passwords, brute-force protection, faults
with Retry-After, and large folders streamed as they are listed.

from emulators.nextcloud import NextcloudEmulatorServer, NextcloudFixture

with NextcloudEmulatorServer(NextcloudFixture(spec)) as nextcloud:
    nextcloud.link("photos")
"""

from emulators.nextcloud.app import NextcloudEmulatorApp, build_app
from emulators.nextcloud.faults import FaultPlan, FaultRule
from emulators.nextcloud.fixture import NextcloudFixture, Share, ShareItem
from emulators.nextcloud.server import NextcloudEmulatorServer
from emulators.nextcloud.state import FLAVOURS, EmulatorSettings, EmulatorState

__all__ = [
    "FLAVOURS",
    "EmulatorSettings",
    "EmulatorState",
    "FaultPlan",
    "FaultRule",
    "NextcloudEmulatorApp",
    "NextcloudEmulatorServer",
    "NextcloudFixture",
    "Share",
    "ShareItem",
    "build_app",
]
