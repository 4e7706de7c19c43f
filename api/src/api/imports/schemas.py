"""Request and response shapes of the import routes."""

from datetime import datetime
from typing import Literal

import msgspec

from api.constraints import Link, NotifyUrl, Password

ImportStatus = Literal[
    "queued", "running", "completed", "completed_with_errors", "failed", "cancelled"
]
# A source's name as `GET /sources` lists it, e.g. `google_drive` or `dropbox`.
Source = str


class ImportRequest(msgspec.Struct, forbid_unknown_fields=True):
    url: Link
    recursive: bool = True
    # For a link the owner protected with a password (sources that have them: see
    # `GET /sources`). Kept once, on the import; never logged, never shown in its views.
    password: Password | None = None
    # Told when the import ends, by a signed POST (see the README's Webhooks section).
    notify_url: NotifyUrl | None = None


class ImportAccepted(msgspec.Struct):
    import_id: str
    status: ImportStatus
    source: Source
    folder_id: str


class ImportCounts(msgspec.Struct):
    discovered: int
    imported: int
    unchanged: int
    skipped: int
    failed: int
    # Images of earlier imports of the folder that this one, a sync's run, found gone.
    removed: int
    # Files that reached a final state: imported + unchanged + skipped + failed (the database's
    # import_settled_files, so no client adds them up itself).
    settled: int
    # Files the source refuses for now (Drive's download quota on a popular file): pending,
    # tried again later without spending their attempts; the import completes once they come
    # through (or fail after SOURCE_QUOTA_GIVE_UP_SECONDS).
    waiting_for_quota: int


class ImportRate(msgspec.Struct):
    files_per_second: float
    bytes_per_second: float


class ImportView(msgspec.Struct):
    import_id: str
    status: ImportStatus
    source: Source
    folder_id: str
    # The folder's name as the source gives it, learned when the import starts; null before,
    # and for a source that gives none (show `source_url` then).
    folder_name: str | None
    source_url: str
    recursive: bool
    # The sync this import is a run of, if any.
    sync_id: str | None
    # Where the import reports its end; `GET /imports/{id}/deliveries` shows what was sent.
    notify_url: str | None
    counts: ImportCounts
    bytes_imported: int
    # Bytes of the images it imported that it did not store, the catalogue holding them
    # already (another folder, source or name): moved from neither the source nor to S3 when
    # the source lists a SHA-256 of them, else downloaded but not stored.
    bytes_saved: int
    error: str | None
    notes: str | None
    # While the import waits its turn (queued, MAX_ACTIVE_IMPORTS running): its place in line,
    # 1 = next to start; null when it is not waiting.
    queue_position: int | None
    # While files wait for the source's quota: when the next of them is tried; else null.
    quota_next_try_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    elapsed_seconds: float | None
    rate: ImportRate | None


class ImportPage(msgspec.Struct):
    items: list[ImportView]
    next_cursor: str | None


class FailedFile(msgspec.Struct):
    file_id: str
    name: str
    mime_type: str
    size: int | None
    reason: str | None
    attempts: int
    updated_at: datetime


class FailedFilePage(msgspec.Struct):
    items: list[FailedFile]
    next_cursor: str | None


class RetryAccepted(msgspec.Struct):
    import_id: str
    status: ImportStatus
    requeued: int


class CancelAccepted(msgspec.Struct):
    import_id: str
    status: ImportStatus
    # Queued jobs of the import that will not run; running ones stop at their next step.
    cancelled_jobs: int
