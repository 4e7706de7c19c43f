"""The import pipeline: start an import, and list its folders page by page, queueing the images
each page holds as transfer batches (see transfers.py).

Each step reads what it needs, does its slow I/O outside any transaction, then commits its
outcome and the jobs that follow from it in one short transaction. Every step can run twice
(a retry, a killed worker) without counting, storing or queueing anything twice.
"""

import dataclasses
import logging
import time
from typing import Any

import psycopg

from domain.albums import repository as albums
from domain.contents import repository as contents
from domain.db import Connection
from domain.imports import listing as listing
from domain.imports import repository as import_rows
from worker import jobs, metrics
from worker.imports import transfers
from worker.imports.transfers import over_file_cap
from worker.periodic import take_and_queue
from worker.services import Services
from worker.settings import Settings
from worker.sources.base import FolderRef, FolderUnavailable, SourceFile

log = logging.getLogger("worker.pipeline")

# How long one listing job goes on listing its folder's pages before it queues the rest as a
# new job: well within SHUTDOWN_GRACE_SECONDS, so a stopping worker lets it finish.
LISTING_SLICE_SECONDS = 10.0
# Start jobs one pass of queue_imports_in_turn queues at most (without MAX_ACTIVE_IMPORTS: the
# queued imports whose start job was lost); the next pass takes the rest.
MAX_STARTS_PER_PASS = 100


async def start_import(services: Services, import_id: str) -> None:
    """When the import's turn has come under MAX_ACTIVE_IMPORTS (first in line, a slot free),
    check its root folder can be listed (learning its name), start it and queue its first
    page. Otherwise it waits in line, queued, and this job ends: `queue_imports_in_turn`
    queues its start again when the import ahead of it starts or a running one ends."""
    cap = services.settings.max_active_imports
    async with services.pool.connection() as conn, conn.transaction():
        row = await import_rows.get_import_to_run(conn, import_id)
        turn = "gone" if row is None else await import_rows.take_turn(conn, import_id, cap)
    if turn == "waiting":
        log.info("import.waiting import_id=%s", import_id)
    if row is None or turn != "start":
        return
    link = services.link_of(row)
    root = link.locator.root()
    connector = services.connectors[row["source"]].for_link(link)
    try:
        folder_name = await connector.check_folder(root)
    except FolderUnavailable as exc:
        await fail_import(services, import_id, str(exc))
        return
    async with services.pool.connection() as conn, conn.transaction():
        if await import_rows.take_turn(conn, import_id, cap) != "start":
            return  # a retried import took the slot meanwhile, or this one was cancelled
        if not await import_rows.start_import(conn, import_id, root, connector.notes, folder_name):
            return
        await albums.record_root(conn, row["source"], dataclasses.replace(root, name=folder_name))
        await jobs.defer_list_page(conn, import_id, root.folder_id)
        if cap:
            await jobs.queue_imports_in_turn(conn)  # the next in line, if a slot is left
    log.info("import.started import_id=%s folder_id=%s", import_id, root.folder_id)


async def queue_imports_in_turn(services: Services) -> list[str]:
    """Queue the start jobs of the imports at the head of the line whose turn has come (a
    slot is free for them under MAX_ACTIVE_IMPORTS) and that have none queued or running."""
    cap = services.settings.max_active_imports

    async def take(conn: Connection) -> list[str]:
        return await import_rows.imports_due_to_start(conn, cap, MAX_STARTS_PER_PASS)

    async def queue(conn: Connection, import_ids: list[str]) -> None:
        for import_id in import_ids:
            await jobs.defer_start_import(conn, import_id)

    due = await take_and_queue(services, take, queue)
    for import_id in due:
        log.info("import.turn_came import_id=%s", import_id)
    return due


async def list_folder_pages(services: Services, import_id: str, folder_id: str) -> None:
    """List one folder from its checkpoint, page after page, for up to LISTING_SLICE_SECONDS;
    if pages remain then, queue a job for the rest. Each page commits on its own (see
    `list_next_page`), so a job that dies resumes from the last page it committed.

    A folder's pages can only be listed one after the other, so they are listed in one job
    rather than a job each: a next page never waits for a free job slot behind the transfers
    its own earlier pages queued."""
    deadline = time.monotonic() + LISTING_SLICE_SECONDS
    while await list_next_page(
        services, import_id, folder_id, last_of_job=time.monotonic() >= deadline
    ):
        pass


async def list_next_page(
    services: Services, import_id: str, folder_id: str, *, last_of_job: bool
) -> bool:
    """List the next page of one folder from its checkpoint; record what it holds and queue
    its new images as transfer batches and (when recursive) each new subfolder. True when
    more pages remain and this job is to list them; on its last page, a job queues the next
    page as a job of its own. A page that would take the import over MAX_FILES_PER_IMPORT or
    MAX_IMPORT_BYTES records no files and fails the import, naming the cap."""
    async with services.pool.connection() as conn:
        checkpoint = await listing.get_folder_checkpoint(conn, import_id, folder_id)
    if checkpoint is None or checkpoint["done"] or checkpoint["import_status"] != "running":
        return False
    folder = FolderRef(folder_id, checkpoint["resource_key"])
    page = await services.connector_for(checkpoint).list_page(folder, checkpoint["next_page_token"])

    async with services.pool.connection() as conn, conn.transaction():
        if not await listing.advance_folder_checkpoint(
            conn,
            import_id,
            folder_id,
            pages_seen=checkpoint["pages_listed"],
            next_page_token=page.next_page_token,
        ):
            return False  # another run of this job committed this page already
        settings = services.settings
        async with conn.transaction() as recording:
            added = await listing.add_files(
                conn,
                import_id,
                checkpoint["source"],
                page.files,
                [skip_reason(f, settings.max_file_bytes) for f in page.files],
                folder_id,
            )
            if over_cap := import_cap_exceeded(settings, added):
                # Back to before this page's files: the import's totals stay within its caps.
                raise psycopg.Rollback(recording)
        if over_cap:
            await import_rows.fail_import(conn, import_id, over_cap)
            await jobs.queue_imports_in_turn_if_ended(conn, "failed")
            log.warning("import.cap_reached import_id=%s error=%s", import_id, over_cap)
            return False
        to_transfer = await _settle_known_contents(services, conn, import_id, checkpoint, added)
        # A file that kept its id and changed its name (or folder) is renamed in place.
        await contents.follow_renames(conn, import_id, checkpoint["source"], page.files)
        await transfers.defer_transfers(
            services,
            conn,
            import_id,
            to_transfer,
            listed_before=added.discovered - len(page.files),
        )
        if checkpoint["recursive"]:
            await albums.record_subfolders(conn, checkpoint["source"], folder_id, page.folders)
            for subfolder_id in await listing.add_folders(conn, import_id, page.folders):
                await jobs.defer_list_page(conn, import_id, subfolder_id)
        if page.next_page_token:
            if last_of_job:
                await jobs.defer_list_page(conn, import_id, folder_id)
        else:
            status = await listing.finish_folder(conn, import_id)
            await jobs.queue_imports_in_turn_if_ended(conn, status)
    count_listed(checkpoint["source"], added)
    log.info(
        "import.page_listed import_id=%s folder_id=%s page=%d files=%d new_images=%d more=%s",
        import_id,
        folder_id,
        checkpoint["pages_listed"] + 1,
        len(page.files),
        len(added.to_transfer),
        bool(page.next_page_token),
    )
    return page.next_page_token is not None and not last_of_job


async def _settle_known_contents(
    services: Services,
    conn: Connection,
    import_id: str,
    checkpoint: dict[str, Any],
    added: listing.AddedFiles,
) -> list[tuple[str, int | None]]:
    """The page's new images the source lists with the checksum of stored bytes are imported
    at once, pointing at those bytes: nothing is downloaded or stored. The others, to
    transfer."""
    ids = [file_id for file_id, _ in added.to_transfer]
    known = await contents.settle_known_contents(conn, import_id, checkpoint["source"], ids)
    if not known.file_ids:
        return added.to_transfer
    await jobs.defer_derivatives(
        conn,
        import_id,
        known.images_to_derive,
        batch_images=services.settings.derivative_batch_images,
    )
    metrics.FILES.labels(checkpoint["source"], "imported", "").inc(len(known.file_ids))
    log.info("import.known_contents_linked import_id=%s files=%d", import_id, len(known.file_ids))
    return [(f, size) for f, size in added.to_transfer if f not in known.file_ids]


async def fail_import(services: Services, import_id: str, error: str) -> None:
    async with services.pool.connection() as conn, conn.transaction():
        await import_rows.fail_import(conn, import_id, error)
        await jobs.queue_imports_in_turn_if_ended(conn, "failed")
    log.warning("import.failed import_id=%s error=%s", import_id, error)


def count_listed(source: str, added: listing.AddedFiles) -> None:
    """Count the files a committed page settled at once: unchanged, and skipped by class."""
    if added.unchanged:
        metrics.FILES.labels(source, "unchanged", "").inc(added.unchanged)
    for reason in added.skip_reasons:
        metrics.FILES.labels(source, "skipped", metrics.skip_class(reason)).inc()


def skip_reason(file: SourceFile, max_file_bytes: int = 0) -> str | None:
    """Why a listed file will not be imported, or None for an image to transfer."""
    if file.not_downloadable:
        return file.not_downloadable
    if not file.mime_type.startswith("image/"):
        return f"not an image ({file.mime_type})"
    if max_file_bytes and file.size is not None and file.size > max_file_bytes:
        return f"{over_file_cap(max_file_bytes)}: {file.size:,} bytes"
    return None


def import_cap_exceeded(settings: Settings, added: listing.AddedFiles) -> str | None:
    """Why the import must stop, when its totals after a page are over one of its caps."""
    max_files = settings.max_files_per_import
    if max_files and added.discovered > max_files:
        return (
            f"stopped listing at {added.discovered:,} files: one import takes at most "
            f"{max_files:,} (MAX_FILES_PER_IMPORT); import a smaller folder"
        )
    max_bytes = settings.max_import_bytes
    if max_bytes and added.bytes_discovered > max_bytes:
        return (
            f"stopped listing at {added.bytes_discovered:,} bytes of images: one import "
            f"transfers at most {max_bytes:,} (MAX_IMPORT_BYTES); import a smaller folder"
        )
    return None
