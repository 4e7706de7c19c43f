"""SQL on the import ledger (imports, import_files), as the API sees it."""

from datetime import datetime
from typing import Any

from psycopg import sql

from api.db import Connection

# Names of the unique indexes whose violations the service turns into answers.
IDEMPOTENCY_KEY_INDEX = "imports_idempotency_key_idx"
ONE_LIVE_PER_FOLDER_INDEX = "imports_one_live_per_folder_idx"

_ACCEPTED_COLUMNS = "id, status, source, folder_id"
# The database's clock measures elapsed time, so it agrees with started_at, which it also set.
_VIEW_COLUMNS = sql.SQL(
    """id, status, source, folder_id, source_url, recursive, discovered, imported, unchanged,
       skipped, failed, bytes_imported, error, notes, created_at, started_at, finished_at,
       extract(epoch FROM coalesce(finished_at, clock_timestamp()) - started_at)::float8
           AS elapsed_seconds"""
)


async def insert_import(
    conn: Connection,
    *,
    source: str,
    source_url: str,
    folder_id: str,
    resource_key: str | None,
    recursive: bool,
    idempotency_key: str | None = None,
    request_fingerprint: str | None = None,
) -> dict[str, Any] | None:
    """A new queued import, or None when the folder already has a live (queued or running)
    one. A taken idempotency key raises UniqueViolation on IDEMPOTENCY_KEY_INDEX."""
    cur = await conn.execute(
        f"""
        INSERT INTO imports (source, source_url, folder_id, resource_key, recursive,
                             idempotency_key, request_fingerprint)
        VALUES (%s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (source, folder_id) WHERE status IN ('queued', 'running') DO NOTHING
        RETURNING {_ACCEPTED_COLUMNS}
        """,  # noqa: S608 - a fixed column list
        (
            source,
            source_url,
            folder_id,
            resource_key,
            recursive,
            idempotency_key,
            request_fingerprint,
        ),
    )
    return await cur.fetchone()


async def get_live_import(conn: Connection, source: str, folder_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"""
        SELECT {_ACCEPTED_COLUMNS} FROM imports
        WHERE source = %s AND folder_id = %s AND status IN ('queued', 'running')
        """,  # noqa: S608 - a fixed column list
        (source, folder_id),
    )
    return await cur.fetchone()


async def get_import_by_idempotency_key(conn: Connection, key: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"""
        SELECT {_ACCEPTED_COLUMNS}, request_fingerprint FROM imports
        WHERE idempotency_key = %s
        """,  # noqa: S608 - a fixed column list
        (key,),
    )
    return await cur.fetchone()


async def get_import(conn: Connection, import_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        sql.SQL("SELECT {columns} FROM imports WHERE id = %s").format(columns=_VIEW_COLUMNS),
        (import_id,),
    )
    return await cur.fetchone()


async def list_imports(
    conn: Connection,
    *,
    limit: int,
    after: tuple[datetime, str] | None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Newest first, keyset-paginated on (created_at, id)."""
    conditions: list[sql.Composable] = [sql.SQL("true")]
    params: list[Any] = []
    if status is not None:
        conditions.append(sql.SQL("status = %s"))
        params.append(status)
    if after is not None:
        conditions.append(sql.SQL("(created_at, id) < (%s, %s)"))
        params.extend(after)
    query = sql.SQL(
        "SELECT {columns} FROM imports WHERE {where} ORDER BY created_at DESC, id DESC LIMIT %s"
    ).format(columns=_VIEW_COLUMNS, where=sql.SQL(" AND ").join(conditions))
    cur = await conn.execute(query, [*params, limit])
    return await cur.fetchall()


async def import_exists(conn: Connection, import_id: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM imports WHERE id = %s", (import_id,))
    return await cur.fetchone() is not None


async def list_failed_files(
    conn: Connection, import_id: str, *, limit: int, after: str | None
) -> list[dict[str, Any]]:
    """An import's failed files in source file id order, keyset-paginated on that id."""
    conditions: list[sql.Composable] = [sql.SQL("import_id = %s AND state = 'failed'")]
    params: list[Any] = [import_id]
    if after is not None:
        conditions.append(sql.SQL("source_file_id > %s"))
        params.append(after)
    query = sql.SQL(
        """SELECT source_file_id, name, mime_type, size, reason, attempts, updated_at
           FROM import_files WHERE {where} ORDER BY source_file_id LIMIT %s"""
    ).format(where=sql.SQL(" AND ").join(conditions))
    cur = await conn.execute(query, [*params, limit])
    return await cur.fetchall()


async def lock_import(conn: Connection, import_id: str) -> dict[str, Any] | None:
    """The import's status, with its row locked until the transaction ends: concurrent retries
    of one import run one after the other."""
    cur = await conn.execute(
        "SELECT id, status FROM imports WHERE id = %s FOR UPDATE", (import_id,)
    )
    return await cur.fetchone()


async def requeue_failed_files(conn: Connection, import_id: str) -> list[str]:
    """failed → pending for every failed file of the import, with a clean slate; returns the
    ids of the files this call moved. The state guard means a concurrent call moves none of
    them a second time."""
    cur = await conn.execute(
        """
        UPDATE import_files SET state = 'pending', reason = NULL, attempts = 0, updated_at = now()
        WHERE import_id = %s AND state = 'failed'
        RETURNING source_file_id
        """,
        (import_id,),
    )
    return [row["source_file_id"] for row in await cur.fetchall()]


async def reopen_import(conn: Connection, import_id: str, requeued: int) -> dict[str, Any]:
    """Take back `requeued` failed files into the running count: a finished import runs again
    until they settle. Raises UniqueViolation on ONE_LIVE_PER_FOLDER_INDEX when another import
    of the same folder is live."""
    cur = await conn.execute(
        """
        UPDATE imports SET failed = failed - %s, status = 'running', finished_at = NULL
        WHERE id = %s
        RETURNING status
        """,
        (requeued, import_id),
    )
    row = await cur.fetchone()
    assert row is not None
    return row
