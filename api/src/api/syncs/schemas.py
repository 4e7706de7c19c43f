"""Request and response shapes of the sync routes."""

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from api.constraints import NO_NUL, Link, NotifyUrl, Password
from api.imports.schemas import ImportCounts, ImportStatus, Source

Every = Annotated[
    str,
    msgspec.Meta(
        max_length=32,
        pattern=NO_NUL,
        description="How often the folder is imported again: `15m`, `1h`, `1h30m`, `2d` or "
        "ISO 8601 (`PT1H`); at least SYNC_MIN_INTERVAL_SECONDS (15 minutes unless changed).",
        examples=["1h"],
    ),
]
OnRemoved = Literal["keep", "delete"]


class SyncRequest(msgspec.Struct, forbid_unknown_fields=True):
    url: Link
    every: Every
    recursive: bool = True
    password: Password | None = None
    # `keep`: an image whose source file is gone is marked `removed_at`; `delete`: its object,
    # thumbnail and row are deleted as well.
    on_removed: OnRemoved = "keep"
    notify_url: NotifyUrl | None = None


class SyncChange(msgspec.Struct, forbid_unknown_fields=True):
    """What PATCH changes; a field left out stays as it is (`notify_url: null` clears it)."""

    paused: bool | msgspec.UnsetType = msgspec.UNSET
    every: Every | msgspec.UnsetType = msgspec.UNSET
    on_removed: OnRemoved | msgspec.UnsetType = msgspec.UNSET
    notify_url: NotifyUrl | msgspec.UnsetType | None = msgspec.UNSET


class SyncRun(msgspec.Struct):
    """A sync's latest run: an ordinary import (`GET /imports/{import_id}`)."""

    import_id: str
    status: ImportStatus
    counts: ImportCounts
    bytes_imported: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class SyncView(msgspec.Struct):
    sync_id: str
    source: Source
    folder_id: str
    source_url: str
    recursive: bool
    every: str
    every_seconds: int
    on_removed: OnRemoved
    notify_url: str | None
    paused: bool
    # When the next run starts; null while paused. A run never starts before the previous
    # one ended.
    next_run_at: datetime | None
    last_run_at: datetime | None
    runs: int
    # Why the last due run did not start (another import of the folder was live), until one does.
    last_skip: str | None
    # Images this sync found gone from the source, still in the catalogue (`on_removed: keep`,
    # or waiting for their deletion).
    removed_images: int
    last_run: SyncRun | None
    created_at: datetime
    updated_at: datetime


class SyncPage(msgspec.Struct):
    items: list[SyncView]
    next_cursor: str | None


class SyncRunAccepted(msgspec.Struct):
    sync_id: str
    import_id: str
