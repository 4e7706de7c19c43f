"""SQL on the images table."""

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal, NamedTuple

from psycopg import sql
from psycopg.rows import args_row

from domain.db import Connection


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
    width: int | None
    height: int | None
    taken_at: datetime | None
    camera_make: str | None
    camera_model: str | None
    animated: bool | None
    thumbnail_key: str | None
    derivative_state: str
    derivative_reason: str | None
    removed_at: datetime | None
    content_id: str | None
    duplicate_of: str | None
    duplicates: int
    history: list[dict[str, Any]]
    album_id: str | None


Sort = Literal["created_at", "taken_at"]
# The sort key of an image without a capture time, in images_taken_newest_idx: the earliest
# timestamp both PostgreSQL and Python hold, so such images come last.
NOT_TAKEN = datetime(1, 1, 1)
_TAKEN_KEY = "coalesce(taken_at, '0001-01-01 00:00:00'::timestamp)"

_AS_IMAGE_ROW = args_row(ImageRow)
# ImageRow's columns, in its order, ids as text: PostgreSQL writes them faster than Python makes
# uuid objects and turns them back into text.
_COLUMNS = sql.SQL(
    """SELECT id::text AS id, source, source_file_id, google_drive_id, import_id::text AS import_id,
              name, mime_type, size, md5_checksum, storage_path, created_at, updated_at,
              width, height, taken_at, camera_make, camera_model, animated, thumbnail_key,
              derivative_state, derivative_reason, removed_at, content_id,
              (SELECT first.id::text FROM images first
               WHERE first.content_id = images.content_id
                 AND (first.created_at, first.id) < (images.created_at, images.id)
               ORDER BY first.created_at, first.id LIMIT 1) AS duplicate_of,
              (SELECT count(*)::integer FROM images other
               WHERE other.content_id = images.content_id AND other.id <> images.id)
                  AS duplicates,
              history, album_id::text AS album_id"""
)
_SELECT = sql.SQL("{columns} FROM images").format(columns=_COLUMNS)
# For the other lists of ImageRows (an album's images).
IMAGE_COLUMNS = _COLUMNS


@dataclass(frozen=True)
class ImageFilters:
    """What a list of images is narrowed to; a filter left None narrows nothing."""

    source: str | None = None
    import_id: str | None = None
    mime_type: str | None = None
    name_contains: str | None = None
    min_size: int | None = None
    max_size: int | None = None
    min_width: int | None = None
    min_height: int | None = None
    taken_after: datetime | None = None
    taken_before: datetime | None = None
    removed: bool | None = None
    # only: the images whose bytes an earlier image holds (the copies); hide: the others.
    duplicates: Literal["only", "hide"] | None = None
    album_id: str | None = None
    # With album_id: the images of every album below it too.
    album_tree: str | None = None


async def list_images(
    conn: Connection,
    filters: ImageFilters,
    *,
    limit: int,
    after: tuple[datetime, str] | None,
    sort: Sort = "created_at",
) -> list[ImageRow]:
    """Newest first (by when stored, or by when taken), keyset-paginated on (sort key, id);
    every filter narrows the same scan. A name search looks first among the next
    SEARCH_WINDOW_ROWS images in order: a common word fills its page there, where the gram
    index would hand over every image that has it (the planner takes its grams for
    independent, and a tenth of the names holding "beach" for a thousandth), to be sorted."""
    # A filtered list is never prepared: a generic plan does not know how many names contain q
    # (a common gram walks the newest-first index, a rare one reads the gram index), nor how
    # wide a range is. The unfiltered one has one plan whatever its cursor.
    prepare = None if filters == ImageFilters() else False
    cur = conn.cursor(row_factory=_AS_IMAGE_ROW)
    if filters.name_contains is not None:
        query, params = list_query(filters, limit=limit, after=after, sort=sort, window=True)
        await cur.execute(query, params, prepare=prepare)
        rows = await cur.fetchall()
        if len(rows) == limit:
            return rows
    query, params = list_query(filters, limit=limit, after=after, sort=sort)
    await cur.execute(query, params, prepare=prepare)
    return await cur.fetchall()


# How many images in order a name search reads before it asks the gram index: a word in 1 %
# of the names fills a page of 50 within it.
SEARCH_WINDOW_ROWS = 5000


def list_query(
    filters: ImageFilters,
    *,
    limit: int,
    after: tuple[datetime, str] | None,
    sort: Sort,
    window: bool = False,
) -> tuple[sql.SQL, list[Any]]:
    """The statement list_images runs, with its parameters (the plan tests EXPLAIN it); with
    `window`, over the next SEARCH_WINDOW_ROWS images only."""
    names: list[str] = []
    params: list[Any] = []
    for name, value in dataclasses.asdict(filters).items():
        if value is None:
            continue
        if name == "removed":
            # Spelled as images_removed_idx's predicate, so that removed=true reads only those.
            names.append("removed" if value else "kept")
            continue
        if name == "duplicates":
            names.append(f"duplicates_{value}")
            continue
        names.append(name)
        if name == "name_contains":
            params.extend((value, escape_like(value)))
        else:
            params.append(value)
    keyset = (f"after_{sort}",) if after is not None else ()
    keyset_params = list(after) if after is not None else []
    if window:
        return _list_query(tuple(names), keyset, sort), [*keyset_params, *params, limit]
    return _list_query((*names, *keyset), None, sort), [*params, *keyset_params, limit]


def sort_key(row: ImageRow, sort: Sort) -> datetime:
    """The value a page's last row passes on in its cursor."""
    if sort == "taken_at":
        return row.taken_at or NOT_TAKEN
    return row.created_at


_CONDITIONS = {
    "source": "source = %s",
    "import_id": "import_id = %s",
    "mime_type": "mime_type = %s",
    # images_name_grams_idx narrows, ILIKE decides (migrations/schema/imports.sql).
    "name_contains": "name_grams(name) @> name_query_grams(%s)"
    " AND name ILIKE '%%' || %s || '%%' ESCAPE '\\'",
    "min_size": "size >= %s",
    "max_size": "size <= %s",
    "min_width": "width >= %s",
    "min_height": "height >= %s",
    # On the sort key of images_taken_newest_idx (and images_import_taken_idx), which is
    # taken_at itself where there is one. The lower bound keeps a range scan out of the images
    # without a capture time at the key's far end (an image taken at exactly 0001-01-01 00:00
    # is left out with them).
    "taken_after": f"taken_at IS NOT NULL AND {_TAKEN_KEY} >= %s",
    "taken_before": f"{_TAKEN_KEY} < %s AND {_TAKEN_KEY} > '0001-01-01 00:00:00'::timestamp",
    "album_id": "album_id = %s",
    # album_subtree: migrations/schema/albums.sql.
    "album_tree": "album_id = ANY(album_subtree(%s))",
    "removed": "removed_at IS NOT NULL",
    "kept": "removed_at IS NULL",
    # A copy: an image stored earlier has the same content, probed in images_content_idx row
    # by row as the order walks (OFFSET 0 keeps the planner from a join that reads them all).
    "duplicates_only": "EXISTS (SELECT 1 FROM images first WHERE first.content_id = "
    "images.content_id AND (first.created_at, first.id) < (images.created_at, images.id) "
    "OFFSET 0)",
    "duplicates_hide": "NOT EXISTS (SELECT 1 FROM images first WHERE first.content_id = "
    "images.content_id AND (first.created_at, first.id) < (images.created_at, images.id) "
    "OFFSET 0)",
    "after_created_at": "(created_at, id) < (%s, %s)",
    "after_taken_at": f"({_TAKEN_KEY}, id) < (%s::timestamp, %s)",
}
_ORDER = {
    "created_at": "created_at DESC, id DESC",
    # images_taken_newest_idx: images without a capture time come last.
    "taken_at": f"{_TAKEN_KEY} DESC, id DESC",
}


@cache
def _list_query(filters: tuple[str, ...], window: tuple[str, ...] | None, sort: Sort) -> sql.SQL:
    """The query for one set of filters and order, composed once: psycopg renders a composed
    query again on every execution, and a plain one it has seen not at all. With `window`
    (the keyset condition, if any), over the next SEARCH_WINDOW_ROWS images only."""
    order = sql.SQL(_ORDER[sort])
    source: sql.Composable = sql.SQL("images")
    if window is not None:
        source = sql.SQL(
            "(SELECT * FROM images WHERE {keyset} ORDER BY {order} LIMIT {rows}) AS images"
        ).format(keyset=_all(window), order=order, rows=sql.Literal(SEARCH_WINDOW_ROWS))
    query = sql.SQL("{select} FROM {source} WHERE {where} ORDER BY {order} LIMIT %s").format(
        select=_COLUMNS, source=source, where=_all(filters), order=order
    )
    return sql.SQL(query.as_string())


def _all(conditions: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(" AND ").join([sql.SQL("true"), *(sql.SQL(_CONDITIONS[c]) for c in conditions)])


_GET_QUERY = sql.SQL(sql.SQL("{select} WHERE id = %s").format(select=_SELECT).as_string())


async def get_image(conn: Connection, image_id: str) -> ImageRow | None:
    cur = conn.cursor(row_factory=_AS_IMAGE_ROW)
    await cur.execute(_GET_QUERY, (image_id,))
    return await cur.fetchone()


def escape_like(text: str) -> str:
    """`text` as a LIKE pattern that matches only itself: its wildcards become literals."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
