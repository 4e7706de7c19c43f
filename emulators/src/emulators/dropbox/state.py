"""Everything one Dropbox emulator instance owns: fixture, settings, faults, counters, cursors.

Nothing lives at module level, so two emulators in one test process never see each other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from emulators.common.quota import CallerQuotas, check_quota_settings
from emulators.common.state import LiveSettings, RequestCounters
from emulators.dropbox.faults import FaultPlan, FaultRule
from emulators.dropbox.fixture import DropboxFixture
from emulators.google_drive.content import DEFAULT_CHUNK_SIZE
from emulators.google_drive.paging import ShortPages

ZIP_COMPRESSIONS: Final = ("deflated", "stored")
# How a request beyond the rate limit is answered: 429 JSON `too_many_requests`, the same as
# plain text (which clients must read as too_many_requests), or 429 JSON
# `too_many_write_operations` (lock contention, which Dropbox answers the same way).
RATE_LIMIT_ANSWERS: Final = (
    "too_many_requests",
    "too_many_requests_text",
    "too_many_write_operations",
)


@dataclass
class EmulatorSettings(LiveSettings):
    """Behaviour switches a test may change while the emulator runs."""

    # Bearer tokens accepted: None accepts any non-empty token.
    accepted_tokens: frozenset[str] | None = None
    # App key → secret pairs accepted as HTTP Basic: None accepts any non-empty pair.
    accepted_apps: dict[str, str] | None = None
    # Applied to folders without their own short_pages.
    short_pages: ShortPages | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    # The folder zip (dl=1) is refused above these (*chosen*: the commonly quoted web limits,
    # which Dropbox does not document; reference notes B1).
    zip_max_files: int = 10_000
    zip_max_bytes: int = 250 * 1000**3
    zip_compression: str = "deflated"
    # Bumping it invalidates every list_folder cursor issued before: continue answers `reset`.
    cursor_generation: int = 0
    # Dropbox's rate limit, per authorization (a user's token, or an app's key under Basic):
    # rate_limit_per_s API requests a second, rate_limit_burst at once (0: one second's worth);
    # beyond, 429 rate_limit_answer with `Retry-After` of at least rate_limit_retry_after_s (the
    # published spec's example says 300; clients see 15 s too). Refused requests count against
    # the limit, as Dropbox documents. 0 requests/s: no limit. Links and zips have none.
    rate_limit_per_s: float = 0.0
    rate_limit_burst: float = 0.0
    rate_limit_retry_after_s: int = 15
    rate_limit_answer: str = "too_many_requests"

    def __post_init__(self) -> None:
        if isinstance(self.accepted_tokens, str):
            self.accepted_tokens = frozenset({self.accepted_tokens})
        elif self.accepted_tokens is not None:
            self.accepted_tokens = frozenset(self.accepted_tokens)
        if self.accepted_apps is not None:
            self.accepted_apps = {str(k): str(v) for k, v in dict(self.accepted_apps).items()}
        self.short_pages = ShortPages.parse(self.short_pages)
        if self.chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        if self.zip_max_files < 0 or self.zip_max_bytes < 0:
            raise ValueError("zip limits must not be negative")
        if self.zip_compression not in ZIP_COMPRESSIONS:
            raise ValueError(f"zip_compression must be one of {ZIP_COMPRESSIONS}")
        check_quota_settings(self.rate_limit_per_s, self.rate_limit_burst)
        if self.rate_limit_retry_after_s < 1:
            raise ValueError("rate_limit_retry_after_s must be at least 1")
        if self.rate_limit_answer not in RATE_LIMIT_ANSWERS:
            raise ValueError(f"rate_limit_answer must be one of {RATE_LIMIT_ANSWERS}")

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted_tokens": sorted(self.accepted_tokens)
            if self.accepted_tokens is not None
            else None,
            "accepted_apps": self.accepted_apps,
            "short_pages": self.short_pages.to_json() if self.short_pages else None,
            "chunk_size": self.chunk_size,
            "zip_max_files": self.zip_max_files,
            "zip_max_bytes": self.zip_max_bytes,
            "zip_compression": self.zip_compression,
            "cursor_generation": self.cursor_generation,
            "rate_limit_per_s": self.rate_limit_per_s,
            "rate_limit_burst": self.rate_limit_burst,
            "rate_limit_retry_after_s": self.rate_limit_retry_after_s,
            "rate_limit_answer": self.rate_limit_answer,
        }


@dataclass
class Stats(RequestCounters):
    """Request and byte counters, readable at `GET /_emulator/stats`; `bytes_served` counts
    the bodies of get_shared_link_file and of folder zips."""

    zip_downloads: int = 0
    zip_bytes_served: int = 0
    # What the API routes answered: "<kind> served" (below 400) and "<kind> rate_limited" (the
    # rate limit's or a fault's 429). Every 429 asks the caller to come back after Retry-After,
    # so a client's requests should add up to what it was served plus what it was refused.
    answers: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Cursor:
    """Where a listing stands: which link and folder, how far, and under which generation."""

    link: str  # the shared link's path, e.g. /scl/fo/<id>/<key>
    folder_id: str
    offset: int
    page: int
    limit: int
    include_non_downloadable: bool
    generation: int


class Signer:
    """Opaque tokens that carry JSON and cannot be forged: list_folder cursors, zip downloads."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign(self, payload: dict[str, Any]) -> str:
        raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        mac = hmac.new(self._secret, raw, hashlib.sha256).digest()[:12]
        # Real cursors are long base64 strings starting "AA"; so are these.
        return "AA" + base64.urlsafe_b64encode(mac + raw).decode().rstrip("=")

    def read(self, token: str) -> dict[str, Any] | None:
        if not isinstance(token, str) or not token.startswith("AA"):
            return None
        body = token[2:]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            return None
        mac, payload = raw[:12], raw[12:]
        expected = hmac.new(self._secret, payload, hashlib.sha256).digest()[:12]
        if len(mac) != 12 or not hmac.compare_digest(mac, expected):
            return None
        try:
            value = json.loads(payload)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


class EmulatorState:
    def __init__(
        self,
        fixture: DropboxFixture,
        settings: EmulatorSettings | None = None,
        faults: FaultPlan[FaultRule] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fixture = fixture
        self.settings = settings or EmulatorSettings()
        self.faults: FaultPlan[FaultRule] = faults or FaultPlan()
        self.stats = Stats()
        self.quotas = CallerQuotas(clock)
        self.signer = Signer(hashlib.sha256(f"dropbox-emulator:{fixture.seed}".encode()).digest())

    def retry_after_if_limited(self, caller: str) -> int | None:
        """None when `caller` may be served now; else the `Retry-After` to answer with: the
        configured seconds, or longer when the caller's debt needs longer to clear."""
        settings = self.settings
        wait = self.quotas.take(
            caller, settings.rate_limit_per_s, settings.rate_limit_burst, charge_refusals=True
        )
        if wait is None:
            return None
        return max(settings.rate_limit_retry_after_s, math.ceil(wait))

    def issue_cursor(self, cursor: Cursor) -> str:
        return self.signer.sign({"kind": "cursor", **cursor.__dict__})

    def read_cursor(self, token: str) -> Cursor | None:
        value = self.signer.read(token)
        if value is None or value.pop("kind", None) != "cursor":
            return None
        try:
            return Cursor(**value)
        except TypeError:
            return None
