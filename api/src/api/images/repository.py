"""SQL on the images table."""

from datetime import datetime
from functools import cache
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
    filters: list[str] = []
    params: list[Any] = []
    for name, value in (
        ("source", source),
        ("import_id", import_id),
        ("mime_type", mime_type),
        ("name_contains", None if name_contains is None else escape_like(name_contains)),
        ("min_size", min_size),
        ("max_size", max_size),
    ):
        if value is not None:
            filters.append(name)
            params.append(value)
    if after is not None:
        filters.append("after")
        params.extend(after)
    cur = conn.cursor(row_factory=_AS_IMAGE_ROW)
    await cur.execute(_list_query(tuple(filters)), [*params, limit])
    return await cur.fetchall()


_CONDITIONS = {
    "source": "source = %s",
    "import_id": "import_id = %s",
    "mime_type": "mime_type = %s",
    "name_contains": "name ILIKE '%%' || %s || '%%' ESCAPE '\\'",
    "min_size": "size >= %s",
    "max_size": "size <= %s",
    "after": "(created_at, id) < (%s, %s)",
}


@cache
def _list_query(filters: tuple[str, ...]) -> sql.SQL:
    """The query for one set of filters (at most 2^7 of them), composed once: psycopg renders a
    composed query again on every execution, and a plain one it has seen not at all."""
    where = sql.SQL(" AND ").join([sql.SQL("true"), *(sql.SQL(_CONDITIONS[f]) for f in filters)])
    query = sql.SQL("{select} WHERE {where} ORDER BY created_at DESC, id DESC LIMIT %s").format(
        select=_SELECT, where=where
    )
    return sql.SQL(query.as_string())


_GET_QUERY = sql.SQL(sql.SQL("{select} WHERE id = %s").format(select=_SELECT).as_string())


async def get_image(conn: Connection, image_id: str) -> ImageRow | None:
    cur = conn.cursor(row_factory=_AS_IMAGE_ROW)
    await cur.execute(_GET_QUERY, (image_id,))
    return await cur.fetchone()


def escape_like(text: str) -> str:
    """`text` as a LIKE pattern that matches only itself: its wildcards become literals."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
