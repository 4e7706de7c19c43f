"""SQL on albums as the catalogue serves them: lists in path order, one album with its trail of
ancestors, and an album's images by name, each keyset-paginated and read from an index in its
order (migrations/versions/0029_albums.sql, 0030_album_image_indexes.sql)."""

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from psycopg import sql
from psycopg.rows import args_row

from api.images.repository import IMAGE_COLUMNS, ImageRow, escape_like
from domain.db import Connection


class AlbumRow(NamedTuple):
    id: str
    source: str
    source_folder_id: str
    name: str
    path: str
    parent_id: str | None
    image_count: int
    album_count: int
    cover_image_id: str | None
    cover_storage_path: str | None
    cover_thumbnail_key: str | None
    created_at: datetime
    updated_at: datetime


class Crumb(NamedTuple):
    id: str
    name: str


_AS_ALBUM_ROW = args_row(AlbumRow)
_AS_IMAGE_ROW = args_row(ImageRow)
_AS_CRUMB = args_row(Crumb)

# An album's cover is its first image by name that has a thumbnail (one step into
# images_album_cover_idx); its subalbums are counted through albums_parent_path_idx.
_ALBUM_COLUMNS = """
    SELECT a.id::text, a.source, a.source_folder_id, a.name, a.path, a.parent_id::text,
           a.image_count,
           (SELECT count(*) FROM albums c WHERE c.parent_id = a.id)::integer,
           cover.id::text, cover.storage_path, cover.thumbnail_key,
           a.created_at, a.updated_at
    FROM albums a
    LEFT JOIN LATERAL (
        SELECT i.id, i.storage_path, i.thumbnail_key FROM images i
        WHERE i.album_id = a.id AND i.thumbnail_key IS NOT NULL AND i.derivative_state = 'done'
        ORDER BY i.name, i.id
        LIMIT 1
    ) cover ON true
"""


@dataclass(frozen=True)
class AlbumFilters:
    """What a list of albums is narrowed to; a filter left None narrows nothing."""

    parent_id: str | None = None
    # True: only albums without a parent (the folders imports started from).
    top_level: bool | None = None
    source: str | None = None
    name_contains: str | None = None


_CONDITIONS = {
    "parent_id": "a.parent_id = %s",
    "top_level": "a.parent_id IS NULL",
    "not_top_level": "a.parent_id IS NOT NULL",
    "source": "a.source = %s",
    # Albums are a few per thousand images: the name is checked on each, without an index.
    "name_contains": "a.name ILIKE '%%' || %s || '%%' ESCAPE '\\'",
    "after": "(a.path, a.id) > (%s, %s)",
}


@cache
def _list_query(conditions: tuple[str, ...]) -> sql.SQL:
    where = " AND ".join(["true", *(_CONDITIONS[c] for c in conditions)])
    return sql.SQL(f"{_ALBUM_COLUMNS} WHERE {where} ORDER BY a.path, a.id LIMIT %s")


async def list_albums(
    conn: Connection, filters: AlbumFilters, *, limit: int, after: tuple[str, str] | None
) -> list[AlbumRow]:
    """In path order (a folder's subfolders by name), keyset on (path, id)."""
    names: list[str] = []
    params: list[Any] = []
    for name in ("parent_id", "top_level", "source", "name_contains"):
        value = getattr(filters, name)
        if value is None:
            continue
        if name == "top_level":
            names.append("top_level" if value else "not_top_level")
            continue
        names.append(name)
        params.append(escape_like(value) if name == "name_contains" else value)
    if after is not None:
        names.append("after")
        params.extend(after)
    cur = conn.cursor(row_factory=_AS_ALBUM_ROW)
    await cur.execute(_list_query(tuple(names)), [*params, limit])
    return await cur.fetchall()


_GET_QUERY = sql.SQL(f"{_ALBUM_COLUMNS} WHERE a.id = %s")


async def get_album(conn: Connection, album_id: str) -> AlbumRow | None:
    cur = conn.cursor(row_factory=_AS_ALBUM_ROW)
    await cur.execute(_GET_QUERY, (album_id,))
    return await cur.fetchone()


async def ancestors(conn: Connection, album_id: str) -> list[Crumb]:
    """The albums above this one, topmost first: its breadcrumbs."""
    cur = conn.cursor(row_factory=_AS_CRUMB)
    await cur.execute(
        """
        WITH RECURSIVE up(id, name, parent_id, depth) AS (
            SELECT p.id, p.name, p.parent_id, 1
            FROM albums a JOIN albums p ON p.id = a.parent_id
            WHERE a.id = %s
            UNION ALL
            SELECT p.id, p.name, p.parent_id, up.depth + 1
            FROM up JOIN albums p ON p.id = up.parent_id
            WHERE up.depth < 1000
        )
        SELECT id::text, name FROM up ORDER BY depth DESC
        """,
        (album_id,),
    )
    return await cur.fetchall()


_IMAGES_QUERY = sql.SQL(
    sql.SQL(
        "{columns} FROM images WHERE album_id = %s AND (name, id) > (%s, %s) "
        "ORDER BY name, id LIMIT %s"
    )
    .format(columns=IMAGE_COLUMNS)
    .as_string()
)
_FIRST_IMAGES_QUERY = sql.SQL(
    sql.SQL("{columns} FROM images WHERE album_id = %s ORDER BY name, id LIMIT %s")
    .format(columns=IMAGE_COLUMNS)
    .as_string()
)


async def album_images(
    conn: Connection, album_id: str, *, limit: int, after: tuple[str, str] | None
) -> list[ImageRow]:
    """An album's own images by name, as a file manager lists a folder; keyset on (name, id),
    read in order from images_album_name_idx."""
    cur = conn.cursor(row_factory=_AS_IMAGE_ROW)
    if after is None:
        await cur.execute(_FIRST_IMAGES_QUERY, (album_id, limit))
    else:
        await cur.execute(_IMAGES_QUERY, (album_id, *after, limit))
    return await cur.fetchall()
