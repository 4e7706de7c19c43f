"""Syncs: a folder imported again on a schedule. The API records them and starts a new sync's
first run; the worker's scheduler starts the later ones (worker/syncs/runs.py). Each run is an
ordinary import."""

from collections.abc import Sequence
from typing import Any

import msgspec
import procrastinate

from api.cursor import created_cursor, decode_cursor, next_page
from api.errors import Conflict, ConflictingResource, InvalidInput, NotFound
from api.ids import parse_id
from api.imports.service import counts_of
from api.jobs import defer_start_import
from api.sources.service import accepted_link, requested_folder
from api.syncs.intervals import InvalidInterval, format_interval, parse_interval
from api.syncs.schemas import SyncChange, SyncPage, SyncRequest, SyncRun, SyncRunAccepted, SyncView
from api.webhooks.service import check_notify_url
from domain.address_policy import IPNetwork
from domain.db import Connection
from domain.sources.registry import Registry
from domain.sources.repository import register_source
from domain.syncs import repository

# A year: beyond it a schedule is a typo.
MAX_INTERVAL_SECONDS = 366 * 86400


async def create_sync(
    conn: Connection,
    job_app: procrastinate.App,
    sources: Registry,
    request: SyncRequest,
    *,
    min_interval_seconds: int,
    notify_networks: Sequence[IPNetwork],
) -> SyncView:
    """Record a sync of the folder the link names and start its first run now. A folder has
    one sync: a second is a conflict naming the first, which PATCH changes."""
    spec, locator = await accepted_link(sources, request.url)
    folder = requested_folder(
        spec, locator, url=request.url, password=request.password, recursive=request.recursive
    )
    every_seconds = checked_interval(request.every, min_interval_seconds)
    if request.notify_url is not None:
        await check_notify_url(request.notify_url, notify_networks)
    await register_source(conn, spec.name, spec.display_name)
    sync_id = await repository.insert_sync(
        conn,
        folder,
        every_seconds=every_seconds,
        on_removed=request.on_removed,
        notify_url=request.notify_url,
    )
    if sync_id is None:
        existing = await repository.sync_id_of_folder(conn, spec.name, locator.folder_id)
        raise Conflict(
            f"folder {locator.folder_id} has a sync already ({existing}): change it with "
            f"PATCH /syncs/{existing}, or delete it first",
            conflict=ConflictingResource("sync", str(existing)) if existing else None,
        )
    if run := await repository.start_run(conn, sync_id):
        await defer_start_import(job_app, conn, run)
    return await get_sync(conn, sync_id)


async def get_sync(conn: Connection, sync_id: str) -> SyncView:
    row = await repository.get_sync(conn, parse_id(sync_id, "sync"))
    if row is None:
        raise NotFound(f"no sync with id {sync_id}")
    return to_view(row)


async def list_syncs(conn: Connection, *, limit: int, cursor: str | None) -> SyncPage:
    after = decode_cursor(cursor) if cursor else None
    rows = await repository.list_syncs(conn, limit=limit + 1, after=after)
    rows, next_cursor = next_page(rows, limit, created_cursor)
    return SyncPage(items=[to_view(row) for row in rows], next_cursor=next_cursor)


async def change_sync(
    conn: Connection,
    sync_id: str,
    change: SyncChange,
    *,
    min_interval_seconds: int,
    notify_networks: Sequence[IPNetwork],
) -> SyncView:
    parsed_id = parse_id(sync_id, "sync")
    changes: dict[str, Any] = {}
    if not isinstance(change.paused, msgspec.UnsetType):
        changes["paused"] = change.paused
    if not isinstance(change.every, msgspec.UnsetType):
        changes["every_seconds"] = checked_interval(change.every, min_interval_seconds)
    if not isinstance(change.on_removed, msgspec.UnsetType):
        changes["on_removed"] = change.on_removed
    if not isinstance(change.notify_url, msgspec.UnsetType):
        if change.notify_url is not None:
            await check_notify_url(change.notify_url, notify_networks)
        changes["notify_url"] = change.notify_url
    if not await repository.change_sync(conn, parsed_id, changes):
        raise NotFound(f"no sync with id {sync_id}")
    return await get_sync(conn, parsed_id)


async def delete_sync(conn: Connection, sync_id: str) -> None:
    """No more runs; a run in progress finishes as an ordinary import, and every image stays."""
    if not await repository.delete_sync(conn, parse_id(sync_id, "sync")):
        raise NotFound(f"no sync with id {sync_id}")


async def run_now(conn: Connection, job_app: procrastinate.App, sync_id: str) -> SyncRunAccepted:
    """A run now, whatever the schedule (the next one is then due an interval later)."""
    view = await get_sync(conn, sync_id)
    if view.paused:
        raise Conflict(f"sync {view.sync_id} is paused: resume it first")
    run = await repository.start_run(conn, view.sync_id)
    if run is None:
        live = await repository.live_run_of(conn, view.sync_id)
        raise Conflict(
            f"folder {view.folder_id} has an import queued or running ({live}): "
            "a run starts when it ends",
            conflict=ConflictingResource("import", str(live)) if live else None,
        )
    await defer_start_import(job_app, conn, run)
    return SyncRunAccepted(sync_id=view.sync_id, import_id=run)


def checked_interval(every: str, min_interval_seconds: int) -> int:
    try:
        seconds = parse_interval(every)
    except InvalidInterval as exc:
        raise InvalidInput(str(exc), field="every") from None
    if seconds < min_interval_seconds:
        raise InvalidInput(
            f"every: {every!r} is shorter than this service allows "
            f"({format_interval(min_interval_seconds)}, SYNC_MIN_INTERVAL_SECONDS)",
            field="every",
        )
    if seconds > MAX_INTERVAL_SECONDS:
        raise InvalidInput(f"every: {every!r} is longer than a year", field="every")
    return seconds


def to_view(row: dict[str, Any]) -> SyncView:
    paused = row["paused_at"] is not None
    return SyncView(
        sync_id=str(row["id"]),
        source=row["source"],
        folder_id=row["folder_id"],
        source_url=row["source_url"],
        recursive=row["recursive"],
        every=format_interval(row["every_seconds"]),
        every_seconds=row["every_seconds"],
        on_removed=row["on_removed"],
        notify_url=row["notify_url"],
        paused=paused,
        next_run_at=None if paused else row["next_run_at"],
        last_run_at=row["last_run_at"],
        runs=row["runs"],
        last_skip=row["last_skip"],
        removed_images=row["removed_images"],
        last_run=None if row["run_id"] is None else _run(row),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _run(row: dict[str, Any]) -> SyncRun:
    return SyncRun(
        import_id=str(row["run_id"]),
        status=row["run_status"],
        counts=counts_of(row),
        bytes_imported=row["bytes_imported"],
        error=row["run_error"],
        created_at=row["run_created_at"],
        started_at=row["run_started_at"],
        finished_at=row["run_finished_at"],
    )
