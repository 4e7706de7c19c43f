"""Everything one emulator instance owns: its fixture, settings, faults, counters and caches.

Nothing lives at module level, so two emulators in one test process never see each other.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from emulators.common.quota import CallerQuotas, check_quota_settings
from emulators.common.state import LiveSettings, RequestCounters
from emulators.google_drive.content import DEFAULT_CHUNK_SIZE
from emulators.google_drive.faults import FaultPlan, FaultRule
from emulators.google_drive.fixture import DriveFixture, DriveItem
from emulators.google_drive.paging import PageTokens, ShortPages
from emulators.google_drive.resources import FileRenderer

PAGE_SIZE_POLICIES: Final = ("reject", "clamp")
USERCONTENT_BASE: Final = "https://drive.usercontent.google.com"
SELF: Final = "self"
FILE_FLAGS: Final = ("abusive", "download_quota_exceeded")
# How a request beyond the per-user quota is answered: 403 usageLimits/userRateLimitExceeded
# (what Google's quota page says), 403 rateLimitExceeded, or 429 rateLimitExceeded (what "rate
# limit checks on the Drive backend" answer).
RATE_LIMIT_ANSWERS: Final = ("user_rate_limit_exceeded", "rate_limit_exceeded", "too_many_requests")
QUOTA_WINDOW: Final = "download_quota_window_s"


@dataclass
class EmulatorSettings(LiveSettings):
    """Behaviour switches a test may change while the emulator runs."""

    # None accepts any non-empty key; a set accepts only those keys.
    accepted_keys: frozenset[str] | None = None
    # False answers every call with 403 accessNotConfigured (Drive API disabled on the project).
    api_enabled: bool = True
    # Out-of-range pageSize: "reject" (400) or "clamp" above 1000 (the discovery doc's wording).
    page_size_policy: str = "reject"
    # Applied to folders without their own short_pages.
    short_pages: ShortPages | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    # Web downloads of files larger than this many bytes answer with the virus-scan warning page
    # (third parties report about 100 MB; Google does not document it).
    virus_scan_threshold: int = 100 * 1024 * 1024
    # Where the warning page's form sends the browser: Google's host, as the real page does, or
    # "self" for this emulator's own address (so a browser pointed at a demo can follow it).
    form_action_base: str = USERCONTENT_BASE
    # Every request to the service (API, web routes, the test-only index) waits this long before
    # it is answered, as a distant Drive does (bench/transfer_vs_rclone.py's WAN mode sets it).
    latency_ms: float = 0.0
    # Google's per-user quota: each caller of the API (its OAuth token, else its `quotaUser`,
    # else its API key) may make rate_limit_per_s requests a second, rate_limit_burst at once
    # (0: one second's worth); beyond, rate_limit_answer. 0 requests/s: no quota. The web
    # routes are not the API and have none.
    rate_limit_per_s: float = 0.0
    rate_limit_burst: float = 0.0
    rate_limit_answer: str = "user_rate_limit_exceeded"

    def __post_init__(self) -> None:
        if isinstance(self.accepted_keys, str):
            self.accepted_keys = frozenset({self.accepted_keys})
        elif self.accepted_keys is not None:
            self.accepted_keys = frozenset(self.accepted_keys)
        if self.page_size_policy not in PAGE_SIZE_POLICIES:
            raise ValueError(f"page_size_policy must be one of {PAGE_SIZE_POLICIES}")
        self.short_pages = ShortPages.parse(self.short_pages)
        if self.chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        if self.virus_scan_threshold < 0:
            raise ValueError("virus_scan_threshold must not be negative")
        if self.form_action_base != SELF and not self.form_action_base.startswith(
            ("http://", "https://")
        ):
            raise ValueError(f"form_action_base must be an http(s) URL or {SELF!r}")
        self.form_action_base = self.form_action_base.rstrip("/")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        check_quota_settings(self.rate_limit_per_s, self.rate_limit_burst)
        if self.rate_limit_answer not in RATE_LIMIT_ANSWERS:
            raise ValueError(f"rate_limit_answer must be one of {RATE_LIMIT_ANSWERS}")

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted_keys": sorted(self.accepted_keys) if self.accepted_keys is not None else None,
            "api_enabled": self.api_enabled,
            "page_size_policy": self.page_size_policy,
            "short_pages": self.short_pages.to_json() if self.short_pages else None,
            "chunk_size": self.chunk_size,
            "virus_scan_threshold": self.virus_scan_threshold,
            "form_action_base": self.form_action_base,
            "latency_ms": self.latency_ms,
            "rate_limit_per_s": self.rate_limit_per_s,
            "rate_limit_burst": self.rate_limit_burst,
            "rate_limit_answer": self.rate_limit_answer,
        }


@dataclass
class Stats(RequestCounters):
    """Request and byte counters, readable at `GET /_emulator/stats`."""

    media_requests_by_file: Counter[str] = field(default_factory=Counter)
    # What the API routes answered: "<kind> served" (below 400), "<kind> rate_limited" (the
    # quota's or a fault's rate-limit answer), "<kind> quota_refused" (downloadQuotaExceeded).
    # Every refusal asks the caller to come back later, so a client's requests should add up to
    # what it was served plus what it was refused.
    answers: Counter[str] = field(default_factory=Counter)


_NATURAL = re.compile(r"(\d+)")


def _natural_key(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in _NATURAL.split(name)]


_SORT_KEYS: Final[dict[str, Any]] = {
    "folder": lambda item: not item.is_folder,
    "name": lambda item: item.name,
    "name_natural": lambda item: _natural_key(item.name),
    "modifiedTime": lambda item: item.modified_time,
    "recency": lambda item: item.modified_time,
    "createdTime": lambda item: item.created_time,
    "quotaBytesUsed": lambda item: item.size or 0,
    # The remaining documented keys are per-user state an anonymous caller does not have.
    "modifiedByMeTime": None,
    "sharedWithMeTime": None,
    "starred": None,
    "viewedByMeTime": None,
}


def parse_order_by(text: str | None) -> tuple[tuple[str, bool], ...] | None:
    """`"folder,modifiedTime desc"` to ((key, descending), …); None when a key is unknown."""
    if text is None or not text.strip():
        return ()
    keys: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or words[0] not in _SORT_KEYS:
            return None
        if len(words) == 2 and words[1].lower() not in ("asc", "desc"):
            return None
        keys.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return tuple(keys)


class EmulatorState:
    """The per-instance state the ASGI app reads and the control endpoints change."""

    def __init__(
        self,
        fixture: DriveFixture,
        settings: EmulatorSettings | None = None,
        faults: FaultPlan[FaultRule] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fixture = fixture
        self.settings = settings or EmulatorSettings()
        self.faults: FaultPlan[FaultRule] = faults or FaultPlan()
        self.stats = Stats()
        self.quotas = CallerQuotas(clock)
        self._clock = clock
        # Per file: how long it answers downloadQuotaExceeded from its first download, and
        # when that first download came.
        self._quota_windows: dict[str, float] = {}
        self._quota_started: dict[str, float] = {}
        self.renderer = FileRenderer(fixture.content)
        secret = hashlib.sha256(f"page-tokens:{fixture.seed}".encode()).digest()
        self.tokens = PageTokens(secret)
        self._file_flags: dict[str, dict[str, bool]] = {}
        self._ordered: dict[tuple[str, tuple[tuple[str, bool], ...]], list[DriveItem]] = {}
        self._lock = threading.Lock()

    def replace_fixture(self, fixture: DriveFixture) -> None:
        """Serve `fixture` from now on, as a Drive whose folders changed: files added, changed
        (same path, new size: the same id with new bytes) or gone. Its seed must be the same,
        so that page tokens and content stay what they were for what did not change."""
        if fixture.seed != self.fixture.seed:
            raise ValueError("a replacement fixture keeps the seed of the one it replaces")
        with self._lock:
            self.fixture = fixture
            self.renderer = FileRenderer(fixture.content)
            self._file_flags.clear()
            self._ordered.clear()
            self._quota_windows.clear()
            self._quota_started.clear()

    def set_file_flags(self, file_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Override `abusive` / `download_quota_exceeded` for one file, or give it a
        `download_quota_window_s` (see `hold_downloads`); the fixture is untouched."""
        item = self.fixture.item(file_id)
        unknown = set(changes) - {*FILE_FLAGS, QUOTA_WINDOW}
        if unknown:
            raise ValueError(f"unknown file flags: {sorted(unknown)}")
        flags_changed = {name: value for name, value in changes.items() if name in FILE_FLAGS}
        if QUOTA_WINDOW in changes:
            window = changes[QUOTA_WINDOW]
            self.hold_downloads([file_id], float(window) if window is not None else 0.0)
        with self._lock:
            flags = self._file_flags.setdefault(file_id, {})
            flags.update({name: bool(value) for name, value in flags_changed.items()})
        return self.file_controls(item)

    def file_flags(self, item: DriveItem) -> dict[str, bool]:
        overrides = self._file_flags.get(item.id, {})
        return {name: overrides.get(name, getattr(item, name)) for name in FILE_FLAGS}

    def file_controls(self, item: DriveItem) -> dict[str, Any]:
        """The flags, and the download-quota window with the seconds it still refuses (None
        before its first download)."""
        with self._lock:
            window = self._quota_windows.get(item.id)
            started = self._quota_started.get(item.id)
        remaining = None
        if window is not None and started is not None:
            remaining = max(0.0, started + window - self._clock())
        return {**self.file_flags(item), QUOTA_WINDOW: window, "refusing_for_s": remaining}

    def hold_downloads(self, file_ids: Iterable[str], seconds: float) -> None:
        """Make each file answer downloadQuotaExceeded for `seconds` from its next first
        download, then serve it, as a popular file's quota clears (Google: within about a day,
        not documented); 0 lifts it."""
        if seconds < 0:
            raise ValueError(f"{QUOTA_WINDOW} must not be negative")
        ids = list(file_ids)
        for file_id in ids:
            self.fixture.item(file_id)  # an unknown id is refused before anything changes
        with self._lock:
            for file_id in ids:
                self._quota_started.pop(file_id, None)
                if seconds > 0:
                    self._quota_windows[file_id] = seconds
                else:
                    self._quota_windows.pop(file_id, None)

    def download_quota_exceeded(self, item: DriveItem) -> bool:
        """Whether a download of `item` now is refused for its download quota: flagged, or
        within its window (which the first download asked for opens)."""
        if self.file_flags(item)["download_quota_exceeded"]:
            return True
        with self._lock:
            window = self._quota_windows.get(item.id)
            if window is None:
                return False
            now = self._clock()
            started = self._quota_started.setdefault(item.id, now)
        return now < started + window

    def ordered_children(
        self, folder: DriveItem, order: tuple[tuple[str, bool], ...]
    ) -> list[DriveItem]:
        """The folder's children in `orderBy` order (fixture order when none), cached."""
        effective = tuple((key, desc) for key, desc in order if _SORT_KEYS[key] is not None)
        if not effective:
            return folder.children
        cache_key = (folder.id, effective)
        cached = self._ordered.get(cache_key)
        if cached is None:
            cached = list(folder.children)
            for key, descending in reversed(effective):
                cached.sort(key=_SORT_KEYS[key], reverse=descending)
            self._ordered[cache_key] = cached
        return cached
