"""SQL on the images table."""

from datetime import datetime
from typing import Any

from psycopg import sql

from api.db import Connection

_SELECT = sql.SQL(
    """SELECT id, source, source_file_id, google_drive_id, import_id, name, mime_type, size,
              md5_checksum, storage_key, storage_path, created_at, updated_at
       FROM images"""
)


async def list_images(
    conn: Connection,
    *,
    limit: int,
    after: tuple[datetime, str] | None,
    source: str | None = None,
    import_id: str | None = None,
) -> list[dict[str, Any]]:
    """Newest first, keyset-paginated on (created_at, id)."""
    conditions: list[sql.Composable] = [sql.SQL("true")]
    params: list[Any] = []
    if source is not None:
        conditions.append(sql.SQL("source = %s"))
        params.append(source)
    if import_id is not None:
        conditions.append(sql.SQL("import_id = %s"))
        params.append(import_id)
    if after is not None:
        conditions.append(sql.SQL("(created_at, id) < (%s, %s)"))
        params.extend(after)
    query = sql.SQL("{select} WHERE {where} ORDER BY created_at DESC, id DESC LIMIT %s").format(
        select=_SELECT, where=sql.SQL(" AND ").join(conditions)
    )
    cur = await conn.execute(query, [*params, limit])
    return await cur.fetchall()
