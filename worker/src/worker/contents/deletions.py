"""Deleting objects from the store: only those noted in `object_deletions` and due, and only
when no content uses their key again (domain/contents/repository.py says why that loses
nothing and leaves nothing behind)."""

import asyncio
import logging

from domain.contents import repository as contents
from worker.db import Pool
from worker.storage.object_store import ObjectStore

log = logging.getLogger("worker.contents")

# Objects deleted per transaction, and transactions per pass: a pass stays short, and the
# next one (the sync's periodic job, every few seconds) takes what is left.
DELETIONS_PER_BATCH = 100
BATCHES_PER_PASS = 10


async def delete_objects(pool: Pool, store: ObjectStore) -> int:
    """Delete the objects due for deletion that no content uses again; how many. Deleting an
    object that is gone succeeds, so a pass cut short repeats nothing that matters."""
    deleted = 0
    for _ in range(BATCHES_PER_PASS):
        async with pool.connection() as conn, conn.transaction():
            keys = await contents.take_object_deletions(conn, DELETIONS_PER_BATCH)
            # A content's thumbnail goes with it (an upload that died may have made one).
            objects = [
                *keys,
                *(contents.thumbnail_key(k) for k in keys if k.startswith("content/")),
            ]
            await asyncio.gather(*(store.delete(key) for key in objects))
            await contents.mark_objects_deleted(conn, keys)
        deleted += len(keys)
        if keys:
            log.info("contents.objects_deleted objects=%d", len(objects))
        if len(keys) < DELETIONS_PER_BATCH:
            break
    return deleted
