"""SQL on the imports table, as the API sees it."""

from typing import Any

from api.db import Connection


async def insert_import(
    conn: Connection,
    *,
    source: str,
    source_url: str,
    folder_id: str,
    resource_key: str | None,
    recursive: bool,
) -> dict[str, Any]:
    cur = await conn.execute(
        """
        INSERT INTO imports (source, source_url, folder_id, resource_key, recursive)
        VALUES (%s, %s, %s, %s, %s)
        RETURNING id, status, source, folder_id
        """,
        (source, source_url, folder_id, resource_key, recursive),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def get_import(conn: Connection, import_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        """
        SELECT id, status, source, folder_id, source_url, recursive, discovered, imported,
               skipped, failed, bytes_imported, error, created_at, started_at, finished_at
        FROM imports WHERE id = %s
        """,
        (import_id,),
    )
    return await cur.fetchone()
