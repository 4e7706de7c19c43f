"""Response shapes of the image routes."""

from datetime import datetime
from typing import Literal

import msgspec

ThumbnailStatus = Literal["done", "pending", "not_possible", "missing"]


class ImageView(msgspec.Struct):
    id: str
    source: str
    source_file_id: str
    google_drive_id: str | None
    import_id: str
    name: str
    mime_type: str
    size: int
    md5_checksum: str | None
    storage_path: str
    url: str
    created_at: datetime
    updated_at: datetime
    # As displayed (EXIF orientation applied); null until the derivatives are made.
    width: int | None
    height: int | None
    # EXIF DateTimeOriginal: the camera's clock, without a time zone.
    taken_at: datetime | None
    camera: str | None
    animated: bool | None
    thumbnail_url: str | None
    thumbnail_status: ThumbnailStatus
    # Why there is no thumbnail_url (pending, not possible, missing); null when there is one.
    thumbnail_reason: str | None
    # When a sync found the image's source file gone (deleted, trashed, unshared); null while
    # the source has it. The stored bytes stay unless the sync says `on_removed: delete`.
    removed_at: datetime | None
    # The album of the folder its file was listed in (GET /albums/{id}); null for an image
    # stored before albums existed, until its folder is imported or synced again.
    album_id: str | None


class ImagePage(msgspec.Struct):
    items: list[ImageView]
    next_cursor: str | None


class ThumbnailProgress(msgspec.Struct):
    """The derivatives of an import's images: made, waiting for a job, not possible (see each
    image's thumbnail_reason), and missing (stored before derivatives; the backfill queues
    them)."""

    import_id: str
    done: int
    pending: int
    not_possible: int
    missing: int
