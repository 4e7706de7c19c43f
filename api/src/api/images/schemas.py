"""Response shapes of the image routes."""

from datetime import datetime
from typing import Any, Literal

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
    # The SHA-256 of the bytes, stored once whatever the files holding them; null for an image
    # stored before contents that the backfill has not hashed yet.
    content_id: str | None
    # The image stored first with the same bytes, when this one is a copy of it (another
    # folder, source or name); null for the first.
    duplicate_of: str | None
    # How many other images have the same bytes.
    duplicates: int
    # What the catalogue followed of its source file, oldest first: renames
    # ({"renamed_from", "renamed_to", "at", "import_id"}) and moves to another folder
    # ({"moved_from", "moved_to", "at", "import_id"}: album paths).
    history: list[dict[str, Any]]
    # The album of the folder its file was listed in (GET /albums/{id}); null for an image
    # stored before albums existed, until its folder is imported or synced again.
    album_id: str | None


class StorageTotals(msgspec.Struct):
    """What the catalogue holds and what it stores: each content's bytes once."""

    images: int
    contents: int
    # The images' sizes added up, as if every file were stored on its own.
    image_bytes: int
    # The bytes stored: each content once.
    stored_bytes: int
    bytes_saved: int


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
