"""Everything one emulated server owns: fixture, settings, faults, counters, failed passwords.

Nothing lives at module level, so two emulators in one test process never see each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from emulators.common.state import LiveSettings, RequestCounters
from emulators.google_drive.content import DEFAULT_CHUNK_SIZE
from emulators.nextcloud.faults import FaultPlan, FaultRule
from emulators.nextcloud.fixture import NextcloudFixture

# Which server it is, so which WebDAV shapes it serves:
# - nextcloud: Nextcloud 29+, `/public.php/dav/files/<token>/` and the legacy
#   `/public.php/webdav/` (still served);
# - legacy: Nextcloud before 29 and ownCloud 10, `/public.php/webdav/` only;
# - ocis: oCIS, `/dav/public-files/<token>/` only.
FLAVOURS: Final = ("nextcloud", "legacy", "ocis")


@dataclass
class EmulatorSettings(LiveSettings):
    """Behaviour switches a test may change while the emulator runs."""

    flavour: str = "nextcloud"
    # Nextcloud refuses every method but GET on public WebDAV without `X-Requested-With:
    # XMLHttpRequest`, unless the server allows outgoing federated shares.
    federation_enabled: bool = False
    # Failed attempts (wrong passwords, unknown tokens) after which every public WebDAV request
    # is answered 429, as Nextcloud's brute-force protection does (10 in 30 minutes).
    brute_force_max_attempts: int = 10
    # Entries of a PROPFIND answer sent per body chunk.
    entries_per_chunk: int = 64
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def __post_init__(self) -> None:
        if self.flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {FLAVOURS}, not {self.flavour!r}")
        if self.brute_force_max_attempts < 1:
            raise ValueError("brute_force_max_attempts must be at least 1")
        if self.entries_per_chunk < 1 or self.chunk_size < 1:
            raise ValueError("entries_per_chunk and chunk_size must be positive")

    def to_json(self) -> dict[str, Any]:
        return {
            "flavour": self.flavour,
            "federation_enabled": self.federation_enabled,
            "brute_force_max_attempts": self.brute_force_max_attempts,
            "entries_per_chunk": self.entries_per_chunk,
            "chunk_size": self.chunk_size,
        }


@dataclass
class Stats(RequestCounters):
    """Request and byte counters, readable at `GET /_emulator/stats` (DELETE resets them, and
    with them the brute-force protection's record of failed attempts)."""

    failed_attempts: int = 0


class EmulatorState:
    def __init__(
        self,
        fixture: NextcloudFixture,
        settings: EmulatorSettings | None = None,
        faults: FaultPlan[FaultRule] | None = None,
    ) -> None:
        self.fixture = fixture
        self.settings = settings or EmulatorSettings()
        self.faults: FaultPlan[FaultRule] = faults or FaultPlan()
        self.stats = Stats()
