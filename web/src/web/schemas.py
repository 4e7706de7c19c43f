"""The API's answers as this service reads them: only the fields the pages use.

Unknown fields are ignored, so the API can grow without breaking the pages.
"""

from datetime import datetime
from typing import Any

import msgspec

LIVE_STATUSES = frozenset({"queued", "running"})


class ImportCounts(msgspec.Struct):
    discovered: int
    imported: int
    unchanged: int
    skipped: int
    failed: int
    # Files that reached their final state (failed ones included, which a retry revisits), as
    # the API counts them.
    settled: int
    removed: int = 0
    # Files the source refuses for now (its download quota), tried again later.
    waiting_for_quota: int = 0


class ImportRate(msgspec.Struct):
    files_per_second: float
    bytes_per_second: float


class Import(msgspec.Struct):
    import_id: str
    status: str
    source: str
    folder_id: str
    source_url: str
    recursive: bool
    counts: ImportCounts
    bytes_imported: int
    error: str | None
    notes: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    elapsed_seconds: float | None
    rate: ImportRate | None
    # Set when the import is a run of a sync (an API without syncs sends none).
    sync_id: str | None = None
    # Its place in the line of imports waiting to start (1 = next); None when not waiting.
    queue_position: int | None = None
    # The folder's name as the source gave it (None before the start, or from a source that
    # gives none, or an API without it): the link stands for it then.
    folder_name: str | None = None
    # When the next file waiting for the source's quota is tried.
    quota_next_try_at: datetime | None = None
    # Bytes of its images the catalogue held already (stored once; an older API sends none).
    bytes_saved: int = 0

    @property
    def imports_ahead(self) -> int | None:
        """How many imports start before this one, while it waits its turn."""
        return None if self.queue_position is None else self.queue_position - 1

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def percent(self) -> int | None:
        """Settled files as a share of those discovered so far; None while nothing is known.

        Discovery runs alongside the transfers, so a running import can show a share that
        drops when a new page of files is listed.
        """
        if self.status == "failed":
            return None
        if self.counts.discovered == 0:
            return None if self.is_live else 100
        return min(100, self.counts.settled * 100 // self.counts.discovered)

    @property
    def eta_seconds(self) -> float | None:
        """Time left for the files discovered so far, at the current rate."""
        remaining = self.counts.discovered - self.counts.settled
        if not self.is_live or remaining <= 0 or not self.rate or self.rate.files_per_second <= 0:
            return None
        return remaining / self.rate.files_per_second


class ImportPage(msgspec.Struct):
    items: list[Import]
    next_cursor: str | None


class ImportStarted(msgspec.Struct):
    import_id: str
    status: str
    # Not in the body: the API answers 200 instead of 202 when the folder's import was live.
    already_live: bool = False


class FailedFile(msgspec.Struct):
    file_id: str
    name: str
    mime_type: str
    size: int | None
    reason: str | None
    attempts: int


class FailedFilePage(msgspec.Struct):
    items: list[FailedFile]
    next_cursor: str | None


class RetryStarted(msgspec.Struct):
    import_id: str
    status: str
    requeued: int


class CancelStarted(msgspec.Struct):
    import_id: str
    status: str
    cancelled_jobs: int


class Image(msgspec.Struct):
    id: str
    source: str
    source_file_id: str
    import_id: str
    name: str
    mime_type: str
    size: int
    md5_checksum: str | None
    storage_path: str
    url: str
    created_at: datetime
    updated_at: datetime
    # Facts and thumbnail from the image's derivatives; null until made (an API without
    # thumbnails sends none of these).
    width: int | None = None
    height: int | None = None
    taken_at: datetime | None = None
    camera: str | None = None
    animated: bool | None = None
    thumbnail_url: str | None = None
    thumbnail_status: str = "missing"
    thumbnail_reason: str | None = None
    # When a sync found the image's source file gone; the image stays until deleted.
    removed_at: datetime | None = None
    # The album of the folder its file was in; null for images stored before albums.
    album_id: str | None = None
    # Its bytes' SHA-256, stored once; the image stored first with the same bytes when this
    # one is a copy, and how many others have them; renames and moves followed in place.
    content_id: str | None = None
    duplicate_of: str | None = None
    duplicates: int = 0
    history: list[dict[str, Any]] = msgspec.field(default_factory=list)


class ThumbnailProgress(msgspec.Struct):
    done: int
    pending: int
    not_possible: int
    missing: int

    @property
    def total(self) -> int:
        return self.done + self.pending + self.not_possible + self.missing


class ImagePage(msgspec.Struct):
    items: list[Image]
    next_cursor: str | None


class Album(msgspec.Struct):
    """A source folder of the catalogue (GET /albums)."""

    id: str
    source: str
    name: str
    path: str
    parent_id: str | None
    image_count: int
    album_count: int
    cover_thumbnail_url: str | None = None


class AlbumPage(msgspec.Struct):
    items: list[Album]
    next_cursor: str | None


class Breadcrumb(msgspec.Struct):
    id: str
    name: str


class AlbumDetail(msgspec.Struct):
    """One album's page: where it is, its subalbums (first page only), a page of its images."""

    album: Album
    breadcrumbs: list[Breadcrumb]
    subalbums: list[Album]
    subalbums_next_cursor: str | None
    images: ImagePage


class SourceInfo(msgspec.Struct):
    name: str
    display_name: str
    accepts_password: bool


class SourceList(msgspec.Struct):
    items: list[SourceInfo]


class DetectedLink(msgspec.Struct):
    source: str
    display_name: str
    folder_id: str


class SyncRun(msgspec.Struct):
    """A sync's latest run: an ordinary import."""

    import_id: str
    status: str
    counts: ImportCounts
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


class Sync(msgspec.Struct):
    sync_id: str
    source: str
    folder_id: str
    source_url: str
    recursive: bool
    every: str
    on_removed: str
    paused: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    runs: int
    last_skip: str | None
    removed_images: int
    last_run: SyncRun | None
    created_at: datetime
    # Told when each run ends (an API without webhooks sends none).
    notify_url: str | None = None


class SyncPage(msgspec.Struct):
    items: list[Sync]
    next_cursor: str | None


class SyncRunStarted(msgspec.Struct):
    sync_id: str
    import_id: str


class ConflictingResource(msgspec.Struct, frozen=True):
    """The resource in the way of a refused request: `type` is `sync` or `import`."""

    type: str
    id: str


class ErrorBody(msgspec.Struct):
    """A refusal: `field` and `conflict` only when the API knows them."""

    error: str
    detail: str
    field: str | None = None
    conflict: ConflictingResource | None = None


class ArchiveLink(msgspec.Struct):
    """A selection the API keeps for download: `url` (an API path) streams it as a ZIP."""

    id: str
    url: str
    name: str
    images: int
    size: int
