"""Starting imports, reading their progress, and retrying their failed files."""

import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import procrastinate
from psycopg import errors

from api.cursor import decode_cursor, decode_text_cursor, encode_cursor, encode_text_cursor
from api.errors import (
    Conflict,
    ConflictingResource,
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
)
from api.ids import parse_id
from api.imports.schemas import (
    CancelAccepted,
    FailedFile,
    FailedFilePage,
    ImportAccepted,
    ImportCounts,
    ImportPage,
    ImportRate,
    ImportRequest,
    ImportView,
    RetryAccepted,
)
from api.jobs import cancel_jobs, defer_queue_requeued_files, defer_start_import
from api.webhooks.service import check_notify_url
from domain.db import Connection
from domain.imports import files as import_files
from domain.imports import repository as import_rows
from domain.sources.registry import Registry, SourceSpec, locator_to_json
from domain.sources.repository import register_source
from domain.webhooks.address_policy import IPNetwork

# Each round either inserts, or finds the live import or the keyed one; another round is needed
# only when that row changed between two statements (the live import just finished).
_START_ROUNDS = 3
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = r"^[\x20-\x7e]{1,255}$"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


@dataclass(frozen=True)
class ImportStart:
    """What a start request led to: a new import (or the replay of one), or the folder's import
    that was already live."""

    accepted: ImportAccepted
    already_live: bool


async def start_import(
    conn: Connection,
    job_app: procrastinate.App,
    sources: Registry,
    request: ImportRequest,
    idempotency_key: str | None = None,
    *,
    source: str | None = None,
    notify_networks: Sequence[IPNetwork] = (),
) -> ImportStart:
    """Record an import of the folder the link names and queue its first job; no call to the
    source happens here. The link decides the source, unless `source` names the only one the
    caller accepts.

    A folder with a live import gets that import back instead of a second one. A request with
    an idempotency key seen before gets the import that key created, provided it carries the
    same body. Both hold under concurrent requests: unique indexes decide, not a prior read.
    """
    if source is None:
        spec, locator = sources.detect(request.url)
    else:
        spec = sources.get(source)
        locator = spec.parse_link(request.url)
    check_password(spec, request.password)
    if request.notify_url is not None:
        await check_notify_url(request.notify_url, notify_networks)
    if idempotency_key is not None:
        check_idempotency_key(idempotency_key)
    fingerprint = request_fingerprint(spec.name, request) if idempotency_key else None
    await register_source(conn, spec.name, spec.display_name)
    for _ in range(_START_ROUNDS):
        if replay := await _replay(conn, idempotency_key, fingerprint):
            return ImportStart(replay, already_live=False)
        try:
            # A savepoint: losing the race for the key must not abort the request's transaction.
            async with conn.transaction():
                row = await import_rows.insert_import(
                    conn,
                    source=spec.name,
                    source_url=request.url.strip(),
                    folder_id=locator.folder_id,
                    locator=locator_to_json(locator),
                    link_password=request.password,
                    recursive=request.recursive,
                    idempotency_key=idempotency_key,
                    request_fingerprint=fingerprint,
                    notify_url=request.notify_url,
                )
        except errors.UniqueViolation as exc:
            if exc.diag.constraint_name != import_rows.IDEMPOTENCY_KEY_INDEX:
                raise
            continue  # a concurrent request with this key committed first: read its import
        if row is not None:
            await defer_start_import(job_app, conn, str(row["id"]))
            return ImportStart(_accepted(row), already_live=False)
        # The folder is busy. If that is because a concurrent twin of this very request won,
        # answer as its replay, not as a different request that found the folder busy.
        if replay := await _replay(conn, idempotency_key, fingerprint):
            return ImportStart(replay, already_live=False)
        live = await import_rows.get_live_import(conn, spec.name, locator.folder_id)
        if live is not None:
            return ImportStart(_accepted(live), already_live=True)
    raise Conflict(
        f"the import of folder {locator.folder_id} kept changing state during this request; "
        "retry it"
    )


def check_password(spec: SourceSpec, password: str | None) -> None:
    if password is None:
        return
    if not spec.accepts_password:
        raise InvalidInput(
            f"{spec.display_name} links have no password: leave password out", field="password"
        )
    if not password:
        raise InvalidInput(
            "password is empty: leave it out for a link without a password", field="password"
        )


def check_idempotency_key(key: str) -> None:
    if not 1 <= len(key) <= 255:
        raise InvalidInput(
            f"Idempotency-Key must be 1 to 255 characters long, not {len(key)}",
            field=IDEMPOTENCY_KEY_HEADER,
        )
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInput(
            "Idempotency-Key must be printable ASCII characters only", field=IDEMPOTENCY_KEY_HEADER
        )


def request_fingerprint(source: str, request: ImportRequest) -> str:
    """sha256 of the canonical JSON of what was asked: the same body always gives the same
    fingerprint, whatever its key order or spacing on the wire (a field left out and a null
    are the same request)."""
    asked = {
        name: value for name, value in msgspec.structs.asdict(request).items() if value is not None
    }
    canonical = json.dumps(
        {"source": source, **asked},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _replay(
    conn: Connection, idempotency_key: str | None, fingerprint: str | None
) -> ImportAccepted | None:
    """The import an earlier request with this key created, if there was one and it asked for
    the same thing."""
    if idempotency_key is None:
        return None
    row = await import_rows.get_import_by_idempotency_key(conn, idempotency_key)
    if row is None:
        return None
    if row["request_fingerprint"] != fingerprint:
        raise IdempotencyKeyReused(
            f"this Idempotency-Key was used for import {row['id']} with a different body:"
            " use a new key for a different request",
            field=IDEMPOTENCY_KEY_HEADER,
            conflict=ConflictingResource("import", str(row["id"])),
        )
    return _accepted(row)


def _accepted(row: dict[str, Any]) -> ImportAccepted:
    return ImportAccepted(
        import_id=str(row["id"]),
        status=row["status"],
        source=row["source"],
        folder_id=row["folder_id"],
    )


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
    # One extra row tells whether another page exists without a COUNT.
    rows = await import_rows.list_imports(
        conn,
        limit=limit + 1,
        after=after,
        status=status,
        sync_id=None if sync_id is None else str(sync_id),
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], str(rows[-1]["id"])) if has_more and rows else None
    )
    return ImportPage(items=[to_view(row) for row in rows], next_cursor=next_cursor)


async def list_failed_files(
    conn: Connection, import_id: str, *, limit: int, cursor: str | None
) -> FailedFilePage:
    parsed_id = parse_id(import_id, "import")
    after = decode_text_cursor(cursor) if cursor else None
    if not await import_rows.import_exists(conn, parsed_id):
        raise NotFound(f"no import with id {import_id}")
    rows = await import_files.list_failed_files(conn, parsed_id, limit=limit + 1, after=after)
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_text_cursor(rows[-1]["source_file_id"]) if has_more and rows else None
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
    cancelled_jobs = await cancel_jobs(job_app, await import_rows.queued_job_ids(conn, parsed_id))
    return CancelAccepted(import_id=parsed_id, status="cancelled", cancelled_jobs=cancelled_jobs)


def to_view(row: dict[str, Any]) -> ImportView:
    elapsed: float | None = row["elapsed_seconds"]
    return ImportView(
        import_id=str(row["id"]),
        status=row["status"],
        source=row["source"],
        folder_id=row["folder_id"],
        source_url=row["source_url"],
        recursive=row["recursive"],
        sync_id=None if row["sync_id"] is None else str(row["sync_id"]),
        notify_url=row["notify_url"],
        counts=counts_of(row),
        bytes_imported=row["bytes_imported"],
        error=row["error"],
        notes=row["notes"],
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
    )


def _rate(row: dict[str, Any], elapsed: float) -> ImportRate:
    if elapsed <= 0:
        return ImportRate(files_per_second=0.0, bytes_per_second=0.0)
    return ImportRate(
        files_per_second=row["settled"] / elapsed, bytes_per_second=row["bytes_imported"] / elapsed
    )
