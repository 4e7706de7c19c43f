"""Browsing the image catalogue."""

import uuid
from typing import Any

from api.db import Connection
from api.images import repository
from api.images.cursor import decode_cursor, encode_cursor
from api.images.schemas import ImagePage, ImageView
from api.storage import DownloadLinks


async def list_images(
    conn: Connection,
    links: DownloadLinks,
    *,
    limit: int,
    cursor: str | None,
    source: str | None = None,
    import_id: uuid.UUID | None = None,
) -> ImagePage:
    after = decode_cursor(cursor) if cursor else None
    # One extra row tells whether another page exists without a COUNT.
    rows = await repository.list_images(
        conn,
        limit=limit + 1,
        after=after,
        source=source,
        import_id=str(import_id) if import_id else None,
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], str(rows[-1]["id"])) if has_more and rows else None
    )
    return ImagePage(items=[to_view(row, links) for row in rows], next_cursor=next_cursor)


def to_view(row: dict[str, Any], links: DownloadLinks) -> ImageView:
    bucket, _, key = row["storage_path"].removeprefix("s3://").partition("/")
    return ImageView(
        id=str(row["id"]),
        source=row["source"],
        source_file_id=row["source_file_id"],
        google_drive_id=row["google_drive_id"],
        import_id=str(row["import_id"]),
        name=row["name"],
        mime_type=row["mime_type"],
        size=row["size"],
        md5_checksum=row["md5_checksum"],
        storage_path=row["storage_path"],
        url=links.url_for(bucket, key),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
