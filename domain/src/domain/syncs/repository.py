"""SQL on syncs: recording, reading and changing them, and starting their runs (the schema's
`sync_start_run` and `sync_start_due_runs`, in migrations/schema/syncs.sql)."""

from datetime import datetime
from typing import Any

from psycopg import sql

from domain.db import Connection
from domain.sources.records import RequestedFolder
from domain.sources.repository import FOLDER_COLUMNS, folder_values

_VIEW = sql.SQL(
    """
    SELECT s.id, s.source, s.folder_id, s.source_url, s.recursive,
           extract(epoch FROM s.every)::bigint AS every_seconds, s.on_removed, s.notify_url,
           s.paused_at, s.next_run_at, s.last_run_at, s.runs, s.last_skip, s.created_at,
           s.updated_at,
           (SELECT count(*) FROM images im
            WHERE im.removed_by_sync_id = s.id AND im.removed_at IS NOT NULL) AS removed_images,
           i.id AS run_id, i.status AS run_status, i.discovered, i.imported, i.unchanged,
           i.skipped, i.failed, i.removed, import_settled_files(i) AS settled,
           (import_quota_waits(i)).files AS waiting_for_quota, i.bytes_imported,
           i.error AS run_error,
           i.created_at AS run_created_at, i.started_at AS run_started_at,
           i.finished_at AS run_finished_at
    FROM syncs s
    LEFT JOIN imports i ON i.id = s.last_import_id
    """
)


async def insert_sync(
    conn: Connection,
    folder: RequestedFolder,
    *,
    every_seconds: int,
    on_removed: str,
    notify_url: str | None,
) -> str | None:
    """The new sync's id, or None when the folder has a sync already."""
    cur = await conn.execute(
        f"""
        INSERT INTO syncs ({FOLDER_COLUMNS}, every, on_removed, notify_url)
        VALUES (%s, %s, %s, %s, %s, %s, justify_interval(make_interval(secs => %s)), %s, %s)
        ON CONFLICT (source, folder_id) DO NOTHING
        RETURNING id
        """,  # noqa: S608 - a fixed column list
        (*folder_values(folder), every_seconds, on_removed, notify_url),
    )
    row = await cur.fetchone()
    return None if row is None else str(row["id"])


async def sync_id_of_folder(conn: Connection, source: str, folder_id: str) -> str | None:
    cur = await conn.execute(
        "SELECT id FROM syncs WHERE source = %s AND folder_id = %s", (source, folder_id)
    )
    row = await cur.fetchone()
    return None if row is None else str(row["id"])


async def start_run(conn: Connection, sync_id: str) -> str | None:
    """A run of the sync now: the new import's id, or None (paused, or its folder busy)."""
    cur = await conn.execute("SELECT sync_start_run(%s) AS import_id", (sync_id,))
    row = await cur.fetchone()
    return None if row is None or row["import_id"] is None else str(row["import_id"])


async def get_sync(conn: Connection, sync_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(_VIEW + sql.SQL(" WHERE s.id = %s"), (sync_id,))
    return await cur.fetchone()


async def list_syncs(
    conn: Connection, *, limit: int, after: tuple[datetime, str] | None
) -> list[dict[str, Any]]:
    """Syncs, newest first, keyset-paginated on (created_at, id)."""
    where = sql.SQL(" WHERE (s.created_at, s.id) < (%s, %s)") if after else sql.SQL("")
    query = _VIEW + where + sql.SQL(" ORDER BY s.created_at DESC, s.id DESC LIMIT %s")
    cur = await conn.execute(query, [*(after or ()), limit])
    return await cur.fetchall()


async def change_sync(conn: Connection, sync_id: str, changes: dict[str, Any]) -> bool:
    """Apply what PATCH asked for; False for an unknown sync. A new interval counts from the
    last run (or the sync's creation): a sync already past it is due at once."""
    assignments: list[sql.Composable] = [sql.SQL("updated_at = now()")]
    params: list[Any] = []
    if "paused" in changes:
        assignments.append(sql.SQL("paused_at = CASE WHEN %s THEN coalesce(paused_at, now()) END"))
        params.append(changes["paused"])
    if "every_seconds" in changes:
        assignments.append(
            sql.SQL(
                "every = justify_interval(make_interval(secs => %s)), "
                "next_run_at = coalesce(last_run_at, created_at) + make_interval(secs => %s)"
            )
        )
        params += [changes["every_seconds"], changes["every_seconds"]]
    for column in ("on_removed", "notify_url"):
        if column in changes:
            assignments.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(changes[column])
    query = sql.SQL("UPDATE syncs SET {} WHERE id = %s").format(sql.SQL(", ").join(assignments))
    cur = await conn.execute(query, [*params, sync_id])
    return cur.rowcount == 1


async def delete_sync(conn: Connection, sync_id: str) -> bool:
    """Delete the sync; its runs keep their rows (their sync_id becomes NULL). The runs are
    locked first, in the order the worker locks them: a worker completing a run holds the
    import's row and then needs the sync's (the foreign key of the images it marks removed),
    so taking the sync's row first would deadlock with it."""
    await conn.execute(
        "SELECT 1 FROM imports WHERE sync_id = %s ORDER BY id FOR UPDATE", (sync_id,)
    )
    cur = await conn.execute("DELETE FROM syncs WHERE id = %s", (sync_id,))
    return cur.rowcount == 1


async def live_run_of(conn: Connection, sync_id: str) -> str | None:
    """The sync folder's import that is queued or running, if any (a run, or someone's)."""
    cur = await conn.execute(
        """
        SELECT i.id FROM syncs s
        JOIN imports i ON i.source = s.source AND i.folder_id = s.folder_id
                      AND i.status IN ('queued', 'running')
        WHERE s.id = %s
        """,
        (sync_id,),
    )
    row = await cur.fetchone()
    return None if row is None else str(row["id"])
