"""`python -m worker.contents.sweep`: find the objects no content uses that a worker left when
it died between its upload and its commit (a content's object, a large file's staging
object, a thumbnail), a day old or more, and delete them.

Uploads are not noted one by one before they happen (a write per file on the import's path);
this sweep, run daily (cron, a Kubernetes CronJob), lists the store instead: a thousand keys
per request. An object is only noted for deletion here; the deletion itself is the one path
objects leave by (worker/contents/deletions.py), which spares a key a content uses again by
then, and an upload of the same bytes in flight meanwhile checks its object when it records
it (domain/contents/repository.py).
"""

import argparse
import asyncio
import logging
from datetime import UTC, datetime, timedelta

from domain.contents import repository as contents
from worker.contents import deletions
from worker.db import create_pool
from worker.settings import Settings, get_settings
from worker.storage.object_store import ObjectStore

log = logging.getLogger("worker.contents.sweep")

# Where an object no content uses can be left: the contents, their thumbnails, staged files.
PREFIXES = ("content/", "thumbnails/content/", "staging/")


async def sweep(settings: Settings, *, older_than: timedelta) -> int:
    """Note and delete the unused objects older than `older_than`; how many were noted."""
    pool = create_pool(settings)
    await pool.open(wait=True)
    store = ObjectStore(settings)
    noted = 0
    try:
        before = datetime.now(UTC) - older_than
        for prefix in PREFIXES:
            async for keys in store.list_keys(prefix, older_than=before):
                if not keys:
                    continue
                async with pool.connection() as conn, conn.transaction():
                    unused = await contents.unused_keys(conn, keys)
                    await contents.request_object_deletions(conn, unused)
                noted += len(unused)
        while await deletions.delete_objects(pool, store):
            pass
    finally:
        await store.aclose()
        await pool.close()
    log.info("contents.swept objects=%d", noted)
    return noted


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m worker.contents.sweep", description=__doc__)
    parser.add_argument(
        "--older-than-hours", type=float, default=24.0, help="leave younger objects alone"
    )
    args = parser.parse_args()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s %(message)s")
    noted = asyncio.run(sweep(settings, older_than=timedelta(hours=args.older_than_hours)))
    print(f"deleted {noted} objects no content uses")


if __name__ == "__main__":
    main()
