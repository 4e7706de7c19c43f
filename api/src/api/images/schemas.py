"""Response shapes of the image routes."""

from datetime import datetime

import msgspec


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


class ImagePage(msgspec.Struct):
    items: list[ImageView]
    next_cursor: str | None
