"""Browsing the image catalogue."""

import uuid

from api.cursor import decode_cursor, encode_cursor
from api.db import Connection
from api.errors import InvalidInput, NotFound
from api.images import repository
from api.images.repository import ImageRow
from api.images.schemas import ImagePage, ImageView
from api.storage import DownloadLinks, LinkSigner


async def list_images(
    conn: Connection,
    links: DownloadLinks,
    *,
    limit: int,
    cursor: str | None,
    source: str | None = None,
    import_id: uuid.UUID | None = None,
    mime_type: str | None = None,
    q: str | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
) -> ImagePage:
    if min_size is not None and max_size is not None and min_size > max_size:
        raise InvalidInput(f"min_size ({min_size}) is greater than max_size ({max_size})")
    after = decode_cursor(cursor) if cursor else None
    # One extra row tells whether another page exists without a COUNT.
    rows = await repository.list_images(
        conn,
        limit=limit + 1,
        after=after,
        source=source,
        import_id=str(import_id) if import_id else None,
        mime_type=mime_type,
        name_contains=q,
        min_size=min_size,
        max_size=max_size,
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if has_more and rows else None
    signer = links.signer()
    return ImagePage(items=[to_view(row, signer) for row in rows], next_cursor=next_cursor)


async def get_image(conn: Connection, links: DownloadLinks, image_id: str) -> ImageView:
    return to_view(await _get_row(conn, image_id), links.signer())


async def content_url(conn: Connection, links: DownloadLinks, image_id: str) -> str:
    """A presigned link to the image's bytes: clients download from S3, not through the API."""
    bucket, key = _location(await _get_row(conn, image_id))
    return links.url_for(bucket, key)


async def _get_row(conn: Connection, image_id: str) -> ImageRow:
    try:
        parsed_id = str(uuid.UUID(image_id))
    except ValueError:
        raise NotFound(f"no image with id {image_id}") from None
    row = await repository.get_image(conn, parsed_id)
    if row is None:
        raise NotFound(f"no image with id {image_id}")
    return row


def _location(row: ImageRow) -> tuple[str, str]:
    bucket, _, key = row.storage_path.removeprefix("s3://").partition("/")
    return bucket, key


def to_view(row: ImageRow, signer: LinkSigner) -> ImageView:
    bucket, key = _location(row)
    return ImageView(
        id=row.id,
        source=row.source,
        source_file_id=row.source_file_id,
        google_drive_id=row.google_drive_id,
        import_id=row.import_id,
        name=row.name,
        mime_type=row.mime_type,
        size=row.size,
        md5_checksum=row.md5_checksum,
        storage_path=row.storage_path,
        url=signer.url_for(bucket, key),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
