"""SQL on imports as rows: recorded by the api, started in turn, failed and cancelled (each
change of status is one of migrations/schema/imports.sql's functions), read by both services.

Functions run inside the caller's transaction and never commit: the request or job that calls
them owns it.
"""

from datetime import datetime
from typing import Any

from psycopg import sql

from domain.db import Connection
from domain.sources.records import FolderRef, RequestedFolder
from domain.sources.repository import FOLDER_COLUMNS, folder_values

# The unique index whose violation the service turns into an answer.
IDEMPOTENCY_KEY_INDEX = "imports_idempotency_key_idx"

_ACCEPTED_COLUMNS = "id, status, source, folder_id"
# The database's clock measures elapsed time, so it agrees with started_at, which it also set.
_VIEW_COLUMNS = sql.SQL(
    """id, status, source, folder_id, folder_name, source_url, recursive, sync_id, notify_url,
       discovered, imported,
       unchanged, skipped, failed, removed, import_settled_files(imports) AS settled,
       bytes_imported, bytes_saved, error, notes, created_at,
       import_queue_position(imports) AS queue_position,
       quota.files AS waiting_for_quota, quota.next_try_at AS quota_next_try_at,
       started_at, finished_at,
       extract(epoch FROM coalesce(finished_at, clock_timestamp()) - started_at)::float8
           AS elapsed_seconds"""
)
# What _VIEW_COLUMNS read: the files waiting for the source's quota counted once per import.
_VIEW_FROM = sql.SQL("imports, LATERAL import_quota_waits(imports) AS quota")


async def get_import_to_run(conn: Connection, import_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        """
        SELECT id, source, folder_id, locator, link_password, recursive, status
        FROM imports WHERE id = %s
        """,
        (import_id,),
    )
    return await cur.fetchone()


async def start_import(
    conn: Connection,
    import_id: str,
    root: FolderRef,
    notes: str | None,
    folder_name: str | None = None,
) -> bool:
    """queued → running, with the root folder as the one pending listing and its name as the
    source gave it. False if another run of the start job got there first."""
    cur = await conn.execute(
        "SELECT import_start(%s, %s, %s, %s, %s) AS started",
        (import_id, notes, root.folder_id, root.resource_key, folder_name),
    )
    row = await cur.fetchone()
    return bool(row and row["started"])


async def take_turn(conn: Connection, import_id: str, cap: int) -> str:
    """Whether a queued import may start now under `cap` running imports (0: no cap): 'start'
    (then start it in this transaction: until it ends, no other start takes a slot), 'waiting'
    (it stays queued, in line), or 'gone' (no longer queued)."""
    cur = await conn.execute("SELECT import_take_turn(%s, %s) AS turn", (import_id, cap))
    row = await cur.fetchone()
    assert row is not None
    turn: str = row["turn"]
    return turn


async def imports_due_to_start(conn: Connection, cap: int, most: int) -> list[str]:
    """The queued imports at the head of the line with a slot free under `cap` and no start job
    queued or running, oldest first: theirs to queue."""
    cur = await conn.execute(
        "SELECT id::text AS id FROM imports_due_to_start(%s, %s) AS id", (cap, most)
    )
    return [row["id"] for row in await cur.fetchall()]


async def fail_import(conn: Connection, import_id: str, error: str) -> None:
    """queued | running → failed, as a whole."""
    await conn.execute("SELECT import_fail(%s, %s)", (import_id, error))


async def insert_import(
    conn: Connection,
    folder: RequestedFolder,
    *,
    idempotency_key: str | None = None,
    request_fingerprint: str | None = None,
    notify_url: str | None = None,
) -> dict[str, Any] | None:
    """A new queued import, or None when the folder already has a live (queued or running)
    one. A taken idempotency key raises UniqueViolation on IDEMPOTENCY_KEY_INDEX."""
    cur = await conn.execute(
        f"""
        INSERT INTO imports ({FOLDER_COLUMNS}, idempotency_key, request_fingerprint, notify_url)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (source, folder_id) WHERE status IN ('queued', 'running') DO NOTHING
        RETURNING {_ACCEPTED_COLUMNS}
        """,  # noqa: S608 - fixed column lists
        (*folder_values(folder), idempotency_key, request_fingerprint, notify_url),
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
        sql.SQL("SELECT {columns} FROM {source} WHERE id = %s").format(
            columns=_VIEW_COLUMNS, source=_VIEW_FROM
        ),
        (import_id,),
    )
    return await cur.fetchone()


async def list_imports(
    conn: Connection,
    *,
    limit: int,
    after: tuple[datetime, str] | None,
    status: str | None = None,
    sync_id: str | None = None,
) -> list[dict[str, Any]]:
    """Newest first, keyset-paginated on (created_at, id)."""
    conditions: list[sql.Composable] = [sql.SQL("true")]
    params: list[Any] = []
    if status is not None:
        conditions.append(sql.SQL("status = %s"))
        params.append(status)
    if sync_id is not None:
        conditions.append(sql.SQL("sync_id = %s"))
        params.append(sync_id)
    if after is not None:
        conditions.append(sql.SQL("(created_at, id) < (%s, %s)"))
        params.extend(after)
    query = sql.SQL(
        "SELECT {columns} FROM {source} WHERE {where} ORDER BY created_at DESC, id DESC LIMIT %s"
    ).format(columns=_VIEW_COLUMNS, source=_VIEW_FROM, where=sql.SQL(" AND ").join(conditions))
    cur = await conn.execute(query, [*params, limit])
    return await cur.fetchall()


async def import_exists(conn: Connection, import_id: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM imports WHERE id = %s", (import_id,))
    return await cur.fetchone() is not None


async def cancel_import(conn: Connection, import_id: str) -> int:
    """The state machine's cancel (migrations/schema/imports.sql), which operators call too: status
    cancelled; returns how many of its jobs were still queued (they end without doing
    anything). Raises NoDataFound for an unknown import."""
    cur = await conn.execute("SELECT cancel_import(%s) AS cancelled", (import_id,))
    row = await cur.fetchone()
    assert row is not None
    cancelled: int = row["cancelled"]
    return cancelled


async def queued_job_ids(conn: Connection, import_id: str) -> list[int]:
    """The import's jobs still waiting in Procrastinate's queue."""
    cur = await conn.execute(
        "SELECT id FROM procrastinate_jobs WHERE status = 'todo' AND args ->> 'import_id' = %s"
        " ORDER BY id",
        (import_id,),
    )
    return [row["id"] for row in await cur.fetchall()]


async def import_cancelled(conn: Connection, import_id: str) -> bool:
    cur = await conn.execute("SELECT status FROM imports WHERE id = %s", (import_id,))
    row = await cur.fetchone()
    return row is not None and row["status"] == "cancelled"
