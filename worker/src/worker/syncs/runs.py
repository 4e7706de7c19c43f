"""Syncs, as the worker runs them: start the runs that are due, and delete the images a sync
found gone from its folder when it says `on_removed: delete`.

Which runs are due, and that none overlaps the previous one or starts twice under several
workers, is decided in SQL (`sync_start_due_runs`, migrations/versions/0017_syncs.sql); a run is
an ordinary import, started by the `import.start` job deferred here in the same transaction.
"""

import logging

from domain.contents import repository as contents
from domain.db import Connection
from worker import jobs
from worker.contents import deletions
from worker.periodic import take_and_queue
from worker.services import Services

log = logging.getLogger("worker.syncs")

# Syncs started by one pass, and removed images deleted by one statement: a pass stays short,
# and the next periodic job takes what is left.
MAX_RUNS_PER_PASS = 100
DELETIONS_PER_BATCH = 100
DELETION_BATCHES_PER_PASS = 10


async def start_due_runs(services: Services) -> int:
    """Start every sync run that is due (up to MAX_RUNS_PER_PASS); how many started."""
    started = await take_and_queue(services, _take_due_runs, _defer_starts)
    for run in started:
        log.info("sync.run_started sync_id=%s import_id=%s", run["sync_id"], run["import_id"])
    return len(started)


async def _take_due_runs(conn: Connection) -> list[dict[str, str]]:
    cur = await conn.execute(
        "SELECT sync_id::text, import_id::text FROM sync_start_due_runs(%s)",
        (MAX_RUNS_PER_PASS,),
    )
    return await cur.fetchall()


async def _defer_starts(conn: Connection, runs: list[dict[str, str]]) -> None:
    for run in runs:
        await jobs.defer_start_import(conn, run["import_id"])


async def delete_removed_images(services: Services) -> int:
    """Delete the rows of images their sync found gone and says to delete, then the objects
    (original and thumbnail) no image needs any more; how many images. Each batch holds its
    syncs and rows locked while it deletes, and skips syncs with a live import of their
    folder: an image listed again by an import in progress, or by one started meanwhile, is
    never deleted under it. The bytes of an image go only with the last image of their
    content (domain/contents/repository.py: the same bytes in another folder or source stay);
    the objects to delete are noted in the batch's transaction and deleted after it, so a
    batch cut short leaves them noted, for the next pass."""
    deleted = 0
    for _ in range(DELETION_BATCHES_PER_PASS):
        async with services.pool.connection() as conn, conn.transaction():
            batch = await _lock_images_to_delete(conn)
            if not batch:
                break
            await conn.execute(
                "DELETE FROM images WHERE id = ANY(%s::uuid[]) AND removed_at IS NOT NULL",
                ([image["id"] for image in batch],),
            )
            # Images stored before contents (not backfilled yet) own their objects alone.
            await contents.request_object_deletions(
                conn,
                [
                    key
                    for image in batch
                    if image["content_id"] is None
                    for key in (image["storage_key"], image["thumbnail_key"])
                    if key
                ],
            )
            await contents.collect_unreferenced(
                conn, [image["content_id"] for image in batch if image["content_id"]]
            )
        deleted += len(batch)
        log.info("sync.removed_images_deleted images=%d", len(batch))
        if len(batch) < DELETIONS_PER_BATCH:
            break
    await deletions.delete_objects(services.pool, services.store)
    return deleted


async def _lock_images_to_delete(conn: Connection) -> list[dict[str, str | None]]:
    """Lock the syncs first, then read their images with no live import of the folder in a
    statement of its own: its snapshot is taken once the syncs are held, and an import of a
    held sync's folder cannot be inserted until this transaction ends (migration 0019), so
    "no live import" stays true while the batch deletes."""
    cur = await conn.execute(
        """
        SELECT s.id FROM syncs s
        WHERE s.on_removed = 'delete'
          AND EXISTS (SELECT 1 FROM images im
                      WHERE im.removed_by_sync_id = s.id AND im.removed_at IS NOT NULL)
        ORDER BY s.id
        FOR UPDATE SKIP LOCKED
        """
    )
    held = [row["id"] for row in await cur.fetchall()]
    if not held:
        return []
    cur = await conn.execute(
        """
        SELECT im.id::text AS id, im.storage_key, im.thumbnail_key, im.content_id
        FROM images im
        JOIN syncs s ON s.id = im.removed_by_sync_id
        WHERE s.id = ANY(%s) AND im.removed_at IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM imports i
                          WHERE i.source = s.source AND i.folder_id = s.folder_id
                            AND i.status IN ('queued', 'running'))
        ORDER BY im.id
        LIMIT %s
        FOR UPDATE OF im SKIP LOCKED
        """,
        (held, DELETIONS_PER_BATCH),
    )
    return await cur.fetchall()
