"""SQL on an import's files: the batches that transfer them, what became of each
(`import_settle_files`), and the failed ones a person lists and requeues.

Functions run inside the caller's transaction and never commit: the request or job that calls
them owns it.
"""

import json
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from domain.db import Connection
from domain.imports.stored import StoredObject


@dataclass(frozen=True)
class BatchToTransfer:
    """The files of a transfer batch still pending, and the state of their import."""

    import_status: str | None
    source: str | None
    # The import's `source`, `locator` and `link_password` (see Services.connector_for).
    link_row: dict[str, Any] | None
    files: list[dict[str, Any]]


async def get_pending_files(
    conn: Connection, import_id: str, file_ids: list[str]
) -> BatchToTransfer:
    """The batch's files that are still pending (a re-run skips what an earlier run settled)."""
    cur = await conn.execute(
        """
        SELECT i.status, i.source, i.locator, i.link_password,
               f.source_file_id, f.name, f.mime_type, f.size, f.checksums, f.resource_key,
               f.attempts, f.quota_wait_since
        FROM imports i
        LEFT JOIN import_files f
               ON f.import_id = i.id AND f.source_file_id = ANY(%s) AND f.state = 'pending'
        WHERE i.id = %s
        ORDER BY f.source_file_id
        """,
        (file_ids, import_id),
    )
    rows = await cur.fetchall()
    if not rows:
        return BatchToTransfer(None, None, None, [])
    files = [row for row in rows if row["source_file_id"] is not None]
    return BatchToTransfer(rows[0]["status"], rows[0]["source"], rows[0], files)


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file of a batch: imported (with what was stored), skipped (its bytes
    are no image), or failed for good."""

    file_id: str
    attempts: int
    stored: StoredObject | None = None
    failure: str | None = None
    skipped: str | None = None
    # Why it failed, as a class for metrics: permanent (the source refused it), exhausted (its
    # last attempt failed transiently), batch_exhausted (its batch job ran out of attempts).
    failure_class: str = "permanent"


@dataclass(frozen=True)
class Settled:
    """The import's status after a group of files settled, and the images stored by it that
    wait for their derivatives."""

    import_status: str | None
    images_to_derive: list[str]


async def settle_files(
    conn: Connection, import_id: str, source: str, outcomes: list[FileOutcome]
) -> Settled:
    """pending → imported | skipped | failed for each outcome's file, each counted once (a file
    settled already is left as it is)."""
    stored = [o.stored for o in outcomes]
    # One statement for the group: rows, images, counters and completion (see the function).
    cur = await conn.execute(
        """
        SELECT status, to_derive FROM import_settle_files(
            %(import_id)s, %(source)s, %(ids)s::text[], %(states)s::text[], %(reasons)s::text[],
            %(attempts)s::int[], %(mime_types)s::text[], %(sizes)s::bigint[],
            %(checksums)s::jsonb[], %(keys)s::text[], %(paths)s::text[]
        )
        """,
        {
            "import_id": import_id,
            "source": source,
            "ids": [o.file_id for o in outcomes],
            "states": [
                "imported" if o.stored else "skipped" if o.skipped else "failed" for o in outcomes
            ],
            "reasons": [o.skipped or o.failure for o in outcomes],
            "attempts": [o.attempts for o in outcomes],
            "mime_types": [s.content_type if s else None for s in stored],
            "sizes": [s.size if s else None for s in stored],
            "checksums": [json.dumps(s.checksums) if s else None for s in stored],
            "keys": [s.key if s else None for s in stored],
            "paths": [s.storage_path if s else None for s in stored],
        },
    )
    row = await cur.fetchone()
    if row is None:
        return Settled(None, [])
    return Settled(row["status"], row["to_derive"] or [])


async def postpone_files(
    conn: Connection, import_id: str, file_ids: list[str], attempts: list[int], reasons: list[str]
) -> list[str]:
    """Note a failed attempt on files that stay pending for another try; returns the ids of
    those still pending (a concurrent run may have settled some)."""
    cur = await conn.execute(
        """
        UPDATE import_files f SET attempts = o.attempts, reason = o.reason, updated_at = now(),
            quota_wait_since = NULL, next_try_at = NULL
        FROM unnest(%s::text[], %s::int[], %s::text[]) AS o(id, attempts, reason)
        WHERE f.import_id = %s AND f.source_file_id = o.id AND f.state = 'pending'
        RETURNING f.source_file_id
        """,
        (file_ids, attempts, reasons, import_id),
    )
    return [row["source_file_id"] for row in await cur.fetchall()]


async def wait_for_quota(
    conn: Connection, import_id: str, file_ids: list[str], reasons: list[str], wait_seconds: float
) -> list[str]:
    """Files the source refuses for now wait, pending, without spending an attempt: since when
    (kept from their first refusal) and their next try; returns the ids still pending."""
    cur = await conn.execute(
        """
        UPDATE import_files f
        SET reason = o.reason, quota_wait_since = coalesce(f.quota_wait_since, now()),
            next_try_at = now() + make_interval(secs => %s), updated_at = now()
        FROM unnest(%s::text[], %s::text[]) AS o(id, reason)
        WHERE f.import_id = %s AND f.source_file_id = o.id AND f.state = 'pending'
        RETURNING f.source_file_id
        """,
        (wait_seconds, file_ids, reasons, import_id),
    )
    return [row["source_file_id"] for row in await cur.fetchall()]


async def take_requeued_files(
    conn: Connection, limit: int
) -> dict[str, list[tuple[str, int | None]]]:
    """Files put back to pending (requeue_failed_files) that still need a transfer job, by
    import, with their sizes; taken off the list in the caller's transaction, so they are
    queued once, by whichever worker commits. Those of an import that is no longer running
    are dropped: nothing is to move for it."""
    cur = await conn.execute(
        """
        WITH taken AS (
            DELETE FROM import_requeues r
            WHERE (r.import_id, r.source_file_id) IN (
                SELECT import_id, source_file_id FROM import_requeues
                ORDER BY requested_at, import_id, source_file_id
                LIMIT %s FOR UPDATE SKIP LOCKED
            )
            RETURNING r.import_id, r.source_file_id
        )
        SELECT t.import_id::text AS import_id, t.source_file_id, f.size
        FROM taken t
        JOIN imports i ON i.id = t.import_id AND i.status = 'running'
        JOIN import_files f ON f.import_id = t.import_id AND f.source_file_id = t.source_file_id
                           AND f.state = 'pending'
        ORDER BY t.import_id, t.source_file_id
        """,
        (limit,),
    )
    by_import: dict[str, list[tuple[str, int | None]]] = {}
    for row in await cur.fetchall():
        by_import.setdefault(row["import_id"], []).append((row["source_file_id"], row["size"]))
    return by_import


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


async def requeue_failed_files(conn: Connection, import_id: str) -> int:
    """The state machine's retry (migrations/schema/imports.sql), which operators
    call too: failed files back to pending, noted for the worker to queue, the import reopened.
    Raises NoDataFound, ObjectNotInPrerequisiteState or UniqueViolation with a message a person
    understands."""
    cur = await conn.execute("SELECT requeue_failed_files(%s) AS requeued", (import_id,))
    row = await cur.fetchone()
    assert row is not None
    requeued: int = row["requeued"]
    return requeued
