"""SQL on the import ledger (imports, import_folders, import_files) and the images catalogue.

Functions run inside the caller's transaction and never commit: the job that calls them owns it.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.db import Connection
from worker.sources.base import FolderRef, SourceFile
from worker.sources.checksums import normalized
from worker.storage import StoredObject

# The transaction-level advisory lock every import start takes before it counts the running
# imports, so that two starts never both see a free slot under MAX_ACTIVE_IMPORTS.
_START_LOCK = 7_316_283_541


async def get_import(conn: Connection, import_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        """
        SELECT id, source, folder_id, locator, link_password, recursive, status
        FROM imports WHERE id = %s
        """,
        (import_id,),
    )
    return await cur.fetchone()


async def start_import(
    conn: Connection, import_id: str, root: FolderRef, notes: str | None
) -> bool:
    """queued → running, with the root folder as the one pending listing. False if another
    run of the start job got there first."""
    cur = await conn.execute(
        "SELECT import_start(%s, %s, %s, %s) AS started",
        (import_id, notes, root.folder_id, root.resource_key),
    )
    row = await cur.fetchone()
    return bool(row and row["started"])


async def count_running_imports(conn: Connection) -> int:
    """How many imports are running, counted under the lock that orders every start: until this
    transaction ends, no other start can change the count."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_START_LOCK,))
    cur = await conn.execute("SELECT count(*) AS running FROM imports WHERE status = 'running'")
    row = await cur.fetchone()
    assert row is not None
    running: int = row["running"]
    return running


async def refuse_import(conn: Connection, import_id: str, error: str) -> bool:
    """queued → failed, for an import that is not to start; False if it was not queued (a
    repeated run of its start job found it started already)."""
    cur = await conn.execute("SELECT import_refuse(%s, %s) AS refused", (import_id, error))
    row = await cur.fetchone()
    return bool(row and row["refused"])


async def fail_import(conn: Connection, import_id: str, error: str) -> None:
    """queued | running → failed, as a whole."""
    await conn.execute("SELECT import_fail(%s, %s)", (import_id, error))


async def get_folder_checkpoint(
    conn: Connection, import_id: str, folder_id: str
) -> dict[str, Any] | None:
    cur = await conn.execute(
        """
        SELECT f.folder_id, f.resource_key, f.next_page_token, f.pages_listed, f.done,
               i.status AS import_status, i.source, i.recursive, i.locator, i.link_password
        FROM import_folders f JOIN imports i ON i.id = f.import_id
        WHERE f.import_id = %s AND f.folder_id = %s
        """,
        (import_id, folder_id),
    )
    return await cur.fetchone()


async def advance_folder_checkpoint(
    conn: Connection,
    import_id: str,
    folder_id: str,
    *,
    pages_seen: int,
    next_page_token: str | None,
) -> bool:
    """Move the checkpoint past one page, only if nobody else did since we read it: a page is
    committed exactly once even when its job runs twice."""
    cur = await conn.execute(
        """
        UPDATE import_folders
        SET next_page_token = %s, pages_listed = pages_listed + 1, done = %s
        WHERE import_id = %s AND folder_id = %s AND pages_listed = %s AND NOT done
        """,
        (next_page_token, next_page_token is None, import_id, folder_id, pages_seen),
    )
    return cur.rowcount == 1


@dataclass(frozen=True)
class AddedFiles:
    """What a page added: the new files to transfer (id and announced size), and the import's
    totals after it (both 0 for a page without files, which moves nothing)."""

    to_transfer: list[tuple[str, int | None]]
    discovered: int
    bytes_discovered: int
    # The page's new files settled at once: how many were unchanged, and why each skipped one was.
    unchanged: int = 0
    skip_reasons: tuple[str, ...] = ()


async def add_files(
    conn: Connection,
    import_id: str,
    source: str,
    files: list[SourceFile],
    skip_reasons: list[str | None],
) -> AddedFiles:
    """Record newly discovered files; a file seen before in this import is ignored. Files with a
    skip reason are settled as skipped, and files already stored with the same checksum and size
    as unchanged, at once. The import's `discovered` and `bytes_discovered` (the known sizes of
    the files to transfer) move in the same statement that locks its row, so the totals returned
    include every page committed before this one."""
    if not files:
        return AddedFiles(to_transfer=[], discovered=0, bytes_discovered=0)
    # One statement: the files, the catalogue's confirmed images and the import's counters.
    cur = await conn.execute(
        """
        SELECT new_ids, new_states, new_sizes, new_reasons, discovered, bytes_discovered
        FROM import_add_files(%s, %s, %s::text[], %s::text[], %s::text[], %s::bigint[],
                              %s::jsonb[], %s::text[], %s::text[])
        """,
        (
            import_id,
            source,
            [f.file_id for f in files],
            [f.name for f in files],
            [f.mime_type for f in files],
            [f.size for f in files],
            [json.dumps(normalized(f.checksums)) for f in files],
            [f.resource_key for f in files],
            skip_reasons,
        ),
    )
    row = await cur.fetchone()
    assert row is not None, f"no import {import_id}"
    to_transfer: list[tuple[str, int | None]] = []
    unchanged = 0
    skipped: list[str] = []
    for file_id, state, size, reason in zip(
        row["new_ids"], row["new_states"], row["new_sizes"], row["new_reasons"], strict=True
    ):
        if state == "pending":
            to_transfer.append((file_id, size))
        elif state == "unchanged":
            unchanged += 1
        else:
            skipped.append(reason or "")
    return AddedFiles(
        to_transfer,
        row["discovered"],
        row["bytes_discovered"],
        unchanged=unchanged,
        skip_reasons=tuple(skipped),
    )


async def add_folders(conn: Connection, import_id: str, folders: list[FolderRef]) -> list[str]:
    """Record subfolders to list; a folder already reached in this import (a second path to it,
    or a loop) is not listed again. Returns the ids of new folders."""
    if not folders:
        return []
    cur = await conn.execute(
        "SELECT import_add_folders AS folder_id FROM import_add_folders(%s, %s, %s)",
        (import_id, [f.folder_id for f in folders], [f.resource_key for f in folders]),
    )
    return [row["folder_id"] for row in await cur.fetchall()]


async def finish_folder(conn: Connection, import_id: str) -> str | None:
    """A folder's last page is listed: one pending listing fewer and, when the import waited
    for nothing else, its completion. Returns the import's status afterwards."""
    cur = await conn.execute("SELECT import_finish_folder(%s) AS status", (import_id,))
    row = await cur.fetchone()
    return row["status"] if row else None


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
               f.attempts
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
        UPDATE import_files f SET attempts = o.attempts, reason = o.reason, updated_at = now()
        FROM unnest(%s::text[], %s::int[], %s::text[]) AS o(id, attempts, reason)
        WHERE f.import_id = %s AND f.source_file_id = o.id AND f.state = 'pending'
        RETURNING f.source_file_id
        """,
        (file_ids, attempts, reasons, import_id),
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


async def get_images_to_derive(conn: Connection, image_ids: list[str]) -> list[dict[str, Any]]:
    """The images of a derivative job still waiting for their derivatives (a re-run skips the
    ones an earlier run recorded), in id order."""
    cur = await conn.execute(
        """
        SELECT id::text AS id, storage_key, size, md5_checksum
        FROM images
        WHERE id = ANY(%s::uuid[]) AND derivative_state = 'pending'
        ORDER BY id
        """,
        (image_ids,),
    )
    return await cur.fetchall()


async def import_cancelled(conn: Connection, import_id: str) -> bool:
    cur = await conn.execute("SELECT status FROM imports WHERE id = %s", (import_id,))
    row = await cur.fetchone()
    return row is not None and row["status"] == "cancelled"


@dataclass(frozen=True)
class DerivativeOutcome:
    """What became of one image's derivatives: made (its facts and thumbnail's key), or not
    possible with the reason. `md5_checksum` and `size` are those of the bytes read, so that
    an image whose bytes changed meanwhile keeps waiting for the job of its new bytes."""

    image_id: str
    md5_checksum: str | None
    size: int
    width: int | None = None
    height: int | None = None
    taken_at: datetime | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    animated: bool | None = None
    thumbnail_key: str | None = None
    not_possible: str | None = None


async def record_derivatives(conn: Connection, outcomes: list[DerivativeOutcome]) -> int:
    """pending → done | not_possible, for the images whose bytes are still the ones read;
    how many were recorded."""
    if not outcomes:
        return 0
    cur = await conn.execute(
        """
        UPDATE images im
        SET derivative_state = CASE WHEN o.reason IS NULL THEN 'done' ELSE 'not_possible' END,
            derivative_reason = o.reason, width = o.width, height = o.height,
            taken_at = o.taken_at, camera_make = o.make, camera_model = o.model,
            animated = o.animated, thumbnail_key = o.thumbnail_key
        FROM unnest(%s::uuid[], %s::text[], %s::bigint[], %s::int[], %s::int[],
                    %s::timestamp[], %s::text[], %s::text[], %s::bool[], %s::text[], %s::text[])
             AS o(id, md5, size, width, height, taken_at, make, model, animated, thumbnail_key,
                  reason)
        WHERE im.id = o.id AND im.derivative_state = 'pending'
          AND im.md5_checksum IS NOT DISTINCT FROM o.md5 AND im.size = o.size
        """,
        (
            [o.image_id for o in outcomes],
            [o.md5_checksum for o in outcomes],
            [o.size for o in outcomes],
            [o.width for o in outcomes],
            [o.height for o in outcomes],
            [o.taken_at for o in outcomes],
            [o.camera_make for o in outcomes],
            [o.camera_model for o in outcomes],
            [o.animated for o in outcomes],
            [o.thumbnail_key for o in outcomes],
            [o.not_possible for o in outcomes],
        ),
    )
    return cur.rowcount


async def take_requested_derivatives(conn: Connection, limit: int) -> list[str]:
    """Images the backfill marked `requested`, now `pending` in the caller's transaction, which
    queues their jobs: whichever worker commits queues them, once."""
    cur = await conn.execute(
        """
        UPDATE images SET derivative_state = 'pending'
        WHERE id IN (SELECT id FROM images WHERE derivative_state = 'requested'
                     ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
        RETURNING id::text AS id
        """,
        (limit,),
    )
    return sorted(row["id"] for row in await cur.fetchall())


async def release_images_to_derive(conn: Connection, image_ids: list[str]) -> None:
    """Images whose derivative job gave up go back to `missing`, for the backfill to queue."""
    await conn.execute(
        """
        UPDATE images SET derivative_state = 'missing'
        WHERE id = ANY(%s::uuid[]) AND derivative_state = 'pending'
        """,
        (image_ids,),
    )
