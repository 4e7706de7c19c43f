"""SQL on the images table."""

from datetime import datetime
from typing import Any, NamedTuple

from psycopg import sql
from psycopg.rows import args_row

from api.db import Connection


class ImageRow(NamedTuple):
    """An image's columns as its view shows them. Rows are made from the values directly, not
    through a dict per row: a page is 50 of them."""

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
    created_at: datetime
    updated_at: datetime


_AS_IMAGE_ROW = args_row(ImageRow)
# ImageRow's columns, in its order, ids as text: PostgreSQL writes them faster than Python makes
# uuid objects and turns them back into text.
_SELECT = sql.SQL(
    """SELECT id::text AS id, source, source_file_id, google_drive_id, import_id::text AS import_id,
              name, mime_type, size, md5_checksum, storage_path, created_at, updated_at
       FROM images"""
)


async def list_images(
    conn: Connection,
    *,
    limit: int,
    after: tuple[datetime, str] | None,
    source: str | None = None,
    import_id: str | None = None,
    mime_type: str | None = None,
    name_contains: str | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
) -> list[ImageRow]:
    """Newest first, keyset-paginated on (created_at, id); every filter narrows the same scan."""
    conditions: list[sql.Composable] = [sql.SQL("true")]
    params: list[Any] = []
    if source is not None:
        conditions.append(sql.SQL("source = %s"))
        params.append(source)
    if import_id is not None:
        conditions.append(sql.SQL("import_id = %s"))
        params.append(import_id)
    if mime_type is not None:
        conditions.append(sql.SQL("mime_type = %s"))
        params.append(mime_type)
    if name_contains is not None:
        conditions.append(sql.SQL("name ILIKE '%%' || %s || '%%' ESCAPE '\\'"))
        params.append(escape_like(name_contains))
    if min_size is not None:
        conditions.append(sql.SQL("size >= %s"))
        params.append(min_size)
    if max_size is not None:
        conditions.append(sql.SQL("size <= %s"))
        params.append(max_size)
    if after is not None:
        conditions.append(sql.SQL("(created_at, id) < (%s, %s)"))
        params.extend(after)
    query = sql.SQL("{select} WHERE {where} ORDER BY created_at DESC, id DESC LIMIT %s").format(
        select=_SELECT, where=sql.SQL(" AND ").join(conditions)
    )
    cur = conn.cursor(row_factory=_AS_IMAGE_ROW)
    await cur.execute(query, [*params, limit])
    return await cur.fetchall()


async def get_image(conn: Connection, image_id: str) -> ImageRow | None:
    cur = conn.cursor(row_factory=_AS_IMAGE_ROW)
    await cur.execute(sql.SQL("{select} WHERE id = %s").format(select=_SELECT), (image_id,))
    return await cur.fetchone()


def escape_like(text: str) -> str:
    """`text` as a LIKE pattern that matches only itself: its wildcards become literals."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
