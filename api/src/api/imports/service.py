"""Reading imports and their failed files, retrying those files, and cancelling an import; an
import's view (`to_view`, `counts_of`) as the API answers with it."""

import uuid
from typing import Any

import procrastinate
from psycopg import errors

from api.cursor import (
    created_cursor,
    decode_cursor,
    decode_text_cursor,
    encode_text_cursor,
    next_page,
)
from api.errors import Conflict, NotFound
from api.ids import parse_id
from api.imports.schemas import (
    CancelAccepted,
    FailedFile,
    FailedFilePage,
    ImportCounts,
    ImportPage,
    ImportRate,
    ImportView,
    RetryAccepted,
)
from api.jobs import cancel_jobs, defer_queue_imports_in_turn, defer_queue_requeued_files
from domain.db import Connection
from domain.imports import files as import_files
from domain.imports import repository as import_rows


async def get_import(conn: Connection, import_id: str) -> ImportView:
    row = await import_rows.get_import(conn, parse_id(import_id, "import"))
    if row is None:
        raise NotFound(f"no import with id {import_id}")
    return to_view(row)


async def list_imports(
    conn: Connection,
    *,
    limit: int,
    cursor: str | None,
    status: str | None = None,
    sync_id: uuid.UUID | None = None,
) -> ImportPage:
    after = decode_cursor(cursor) if cursor else None
    rows = await import_rows.list_imports(
        conn,
        limit=limit + 1,
        after=after,
        status=status,
        sync_id=None if sync_id is None else str(sync_id),
    )
    rows, next_cursor = next_page(rows, limit, created_cursor)
    return ImportPage(items=[to_view(row) for row in rows], next_cursor=next_cursor)


async def list_failed_files(
    conn: Connection, import_id: str, *, limit: int, cursor: str | None
) -> FailedFilePage:
    parsed_id = parse_id(import_id, "import")
    after = decode_text_cursor(cursor) if cursor else None
    if not await import_rows.import_exists(conn, parsed_id):
        raise NotFound(f"no import with id {import_id}")
    rows = await import_files.list_failed_files(conn, parsed_id, limit=limit + 1, after=after)
    rows, next_cursor = next_page(
        rows, limit, lambda row: encode_text_cursor(row["source_file_id"])
    )
    items = [
        FailedFile(
            file_id=row["source_file_id"],
            name=row["name"],
            mime_type=row["mime_type"],
            size=row["size"],
            reason=row["reason"],
            attempts=row["attempts"],
            updated_at=row["updated_at"],
        )
        for row in rows
    ]
    return FailedFilePage(items=items, next_cursor=next_cursor)


async def retry_failed_files(
    conn: Connection, job_app: procrastinate.App, import_id: str
) -> RetryAccepted:
    """Put every failed file of the import back to pending and have the worker queue their
    transfers, in the request's transaction; a finished import runs again until they settle."""
    parsed_id = parse_id(import_id, "import")
    try:
        requeued = await import_files.requeue_failed_files(conn, parsed_id)
    except errors.NoDataFound:
        raise NotFound(f"no import with id {import_id}") from None
    except (errors.ObjectNotInPrerequisiteState, errors.UniqueViolation) as exc:
        raise Conflict(exc.diag.message_primary or str(exc)) from None
    if requeued:
        await defer_queue_requeued_files(job_app, conn)
    row = await import_rows.get_import(conn, parsed_id)
    assert row is not None
    return RetryAccepted(import_id=parsed_id, status=row["status"], requeued=requeued)


async def cancel_import(
    conn: Connection, job_app: procrastinate.App, import_id: str
) -> CancelAccepted:
    """Stop an import: no further listing or transfers; what it imported stays. `conn` is in
    autocommit: the cancellation commits first, then its queued jobs are cancelled."""
    parsed_id = parse_id(import_id, "import")
    before = await import_rows.get_import(conn, parsed_id)
    if before is None:
        raise NotFound(f"no import with id {import_id}")
    if before["status"] == "cancelled":
        return CancelAccepted(import_id=parsed_id, status="cancelled", cancelled_jobs=0)
    await import_rows.cancel_import(conn, parsed_id)
    row = await import_rows.get_import(conn, parsed_id)
    assert row is not None
    if row["status"] != "cancelled":
        raise Conflict(f"import {import_id} already ended ({row['status']}): nothing to cancel")
    if before["status"] == "running":
        await defer_queue_imports_in_turn(job_app, conn)  # its slot is free
    cancelled_jobs = await cancel_jobs(job_app, await import_rows.queued_job_ids(conn, parsed_id))
    return CancelAccepted(import_id=parsed_id, status="cancelled", cancelled_jobs=cancelled_jobs)


def to_view(row: dict[str, Any]) -> ImportView:
    elapsed: float | None = row["elapsed_seconds"]
    return ImportView(
        import_id=str(row["id"]),
        status=row["status"],
        source=row["source"],
        folder_id=row["folder_id"],
        folder_name=row["folder_name"],
        source_url=row["source_url"],
        recursive=row["recursive"],
        sync_id=None if row["sync_id"] is None else str(row["sync_id"]),
        notify_url=row["notify_url"],
        counts=counts_of(row),
        bytes_imported=row["bytes_imported"],
        bytes_saved=row["bytes_saved"],
        error=row["error"],
        notes=row["notes"],
        queue_position=row["queue_position"],
        quota_next_try_at=row["quota_next_try_at"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        elapsed_seconds=elapsed,
        rate=None if elapsed is None else _rate(row, elapsed),
    )


def counts_of(row: dict[str, Any]) -> ImportCounts:
    """An import's counts, from a row with its counter columns."""
    return ImportCounts(
        discovered=row["discovered"],
        imported=row["imported"],
        unchanged=row["unchanged"],
        skipped=row["skipped"],
        failed=row["failed"],
        removed=row["removed"],
        settled=row["settled"],
        waiting_for_quota=row["waiting_for_quota"],
    )


def _rate(row: dict[str, Any], elapsed: float) -> ImportRate:
    if elapsed <= 0:
        return ImportRate(files_per_second=0.0, bytes_per_second=0.0)
    return ImportRate(
        files_per_second=row["settled"] / elapsed, bytes_per_second=row["bytes_imported"] / elapsed
    )
