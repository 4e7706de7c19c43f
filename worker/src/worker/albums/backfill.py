"""The album backfill: every image stored before albums existed (migration 0029) gets the album
of the folder it is in, by the same rules as a new import's.

The database cannot place them by itself: their files were recorded without their folder, and
a Drive or Dropbox file id says nothing of it. So each import that stored such images is
listed again from its root folder, pages only (no file is downloaded, nothing is counted on
the import), through its source's connector and its own link, and each page is recorded with
the listing's own functions: the root's album (`album_record_root`, named as the source names
the folder), each subfolder's album below its parent's (`album_record_subfolders`), and the
page's files' images without an album placed in the page's folder's album
(`album_place_listed_images`), which moves the albums' counts once per page.

Resumable and safe to run twice: each folder's checkpoint (`album_backfill_folders`) moves
past a page only in the transaction that records it, and only from the page the run read, so a
killed run goes on from the last page it committed and two runs never record a page twice. An
import listing the same folders at the same time makes the same albums (one per source folder,
whichever records it first) and gives its images their album itself; the backfill leaves an
image that has one alone. An import is listed once: images its listing no longer finds (a file
deleted or moved out of the folder since) keep no album, until an import lists them again.
"""

import dataclasses
import logging
import time
from typing import Any

from domain.albums import backfill as backfills
from domain.albums import repository as albums
from worker.services import Services
from worker.sources.base import FolderRef, FolderUnavailable, PermanentSourceError

log = logging.getLogger("worker.albums")

# How long one run goes on listing before it leaves the rest to the next (its schedule's tick
# is seconds away): well within SHUTDOWN_GRACE_SECONDS, so a stopping worker lets it finish.
BACKFILL_SLICE_SECONDS = 10.0


async def backfill_albums(services: Services) -> int:
    """List pages of the imports whose images have no album for up to BACKFILL_SLICE_SECONDS:
    the next page of a folder a backfill reached, or, when none is left, the root of the next
    such import. Returns how many pages it recorded."""
    deadline = time.monotonic() + BACKFILL_SLICE_SECONDS
    pages = 0
    while time.monotonic() < deadline:
        async with services.pool.connection() as conn:
            folder = await backfills.next_folder_to_list(conn)
        if folder is not None:
            pages += await list_next_page(services, folder)
        elif not await start_next_import(services):
            break
    return pages


async def start_next_import(services: Services) -> bool:
    """Start listing the next import that has images without an album: its root folder's album
    (named as the source names the folder now) and its checkpoint. False when no import is
    left to list."""
    async with services.pool.connection() as conn:
        row = await backfills.next_import_to_backfill(conn)
    if row is None:
        return False
    import_id = row["import_id"]
    if row["source"] not in services.connectors:
        # A source this deployment no longer reads (a plugin removed): passed over, not
        # retried at every tick ahead of the imports after it.
        await fail_backfill(services, import_id, f"source {row['source']!r} is not configured")
        return True
    root: FolderRef = services.link_of(row).locator.root()
    try:
        folder_name = await services.connector_for(row).check_folder(root)
    except FolderUnavailable as exc:
        await fail_backfill(services, import_id, str(exc))
        return True
    async with services.pool.connection() as conn, conn.transaction():
        if await backfills.start_backfill(conn, import_id, root):
            named = dataclasses.replace(root, name=folder_name)
            await albums.record_root(conn, row["source"], named)
    log.info("album.backfill_started import_id=%s folder_id=%s", import_id, root.folder_id)
    return True


async def fail_backfill(services: Services, import_id: str, error: str) -> None:
    """The import cannot be listed again: its backfill is finished, saying why; its images
    keep no album."""
    async with services.pool.connection() as conn, conn.transaction():
        await backfills.fail_backfill(conn, import_id, error)
    log.warning("album.backfill_unlisted import_id=%s error=%s", import_id, error)


async def list_next_page(services: Services, folder: dict[str, Any]) -> int:
    """List the folder's next page from its checkpoint and record it; 1 when this run
    recorded it, 0 when another run did first. A folder the source no longer lists (removed
    since the import) is passed over, its files left unplaced."""
    import_id, folder_id, source = folder["import_id"], folder["folder_id"], folder["source"]
    ref = FolderRef(folder_id, folder["resource_key"])
    error = None
    try:
        page = await services.connector_for(folder).list_page(ref, folder["next_page_token"])
    except PermanentSourceError as exc:
        page, error = None, str(exc)

    async with services.pool.connection() as conn, conn.transaction():
        if not await backfills.advance_folder(
            conn,
            import_id,
            folder_id,
            pages_seen=folder["pages_listed"],
            next_page_token=page.next_page_token if page else None,
            error=error,
        ):
            return 0
        placed = 0
        if page is not None:
            placed = await backfills.place_listed_images(
                conn, import_id, source, folder_id, [f.file_id for f in page.files]
            )
            if folder["recursive"]:
                await albums.record_subfolders(conn, source, folder_id, page.folders)
                await backfills.add_folders(conn, import_id, page.folders)
        finished = await backfills.finish_if_listed(conn, import_id)
    if error is not None:
        log.warning(
            "album.backfill_folder_unlisted import_id=%s folder_id=%s error=%s",
            import_id,
            folder_id,
            error,
        )
    else:
        log.info(
            "album.backfill_page_listed import_id=%s folder_id=%s images_placed=%d",
            import_id,
            folder_id,
            placed,
        )
    if finished:
        log.info("album.backfill_finished import_id=%s", import_id)
    return 1
