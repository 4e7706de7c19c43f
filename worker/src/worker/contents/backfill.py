"""`python -m worker.contents.backfill`: move the images stored before contents (one object per
source file, under `<source>/<file id>`) to the object of their content (`content/<sha256>`),
so that the same bytes are stored once; then delete the old objects.

Each image's bytes are read back from the store and hashed as they stream (never held whole);
new contents are copied inside the store (no byte through this process), known ones are not
copied at all. Resumable and safe beside running workers: each image moves in a transaction of
its own, guarded on its old key (an image a re-import stored anew meanwhile is left alone),
its old objects are deleted only through `object_deletions` (domain/contents/repository.py),
and a copy it made without recording it is found by the sweep, so stopping it anywhere loses
nothing and leaves nothing behind for long, and running it again goes on with the images left.
"""

import argparse
import asyncio
import logging
from dataclasses import dataclass
from typing import IO, Any, cast

import psycopg

from domain.contents import repository as contents
from domain.imports.stored import StoredObject
from worker.contents import deletions
from worker.db import Pool, create_pool
from worker.settings import Settings, get_settings
from worker.storage.object_store import NotStored, ObjectStore
from worker.storage.upload_tally import ByteTally

log = logging.getLogger("worker.contents.backfill")


@dataclass
class BackfillTotals:
    moved: int = 0
    # Of those, images whose bytes were stored already when they were read (two copies moved
    # at once may both be copied, to the same key): their objects are deleted, none added.
    duplicates: int = 0
    # Images whose object is not in the store, or changed under the backfill: left as they are.
    skipped: int = 0


class _Hashing:
    """A sink that only tallies what the store sends (read_into writes into it)."""

    def __init__(self, tally: ByteTally) -> None:
        self._tally = tally

    def write(self, chunk: bytes) -> int:
        self._tally.add(chunk)
        return len(chunk)


async def backfill(settings: Settings, *, max_images: int, concurrency: int) -> BackfillTotals:
    """Move up to `max_images` images, `concurrency` at a time, then delete the objects they
    left."""
    pool = create_pool(settings)
    await pool.open(wait=True)
    store = ObjectStore(settings)
    totals = BackfillTotals()
    try:
        after: str | None = None
        limit = asyncio.Semaphore(concurrency)
        while totals.moved + totals.skipped < max_images:
            async with pool.connection() as conn:
                images = await contents.images_without_content(
                    conn, after=after, limit=min(1000, max_images - totals.moved - totals.skipped)
                )
            if not images:
                break
            after = images[-1]["id"]

            async def move(image: dict[str, Any]) -> None:
                async with limit:
                    await _move(pool, store, image, totals)

            await asyncio.gather(*(move(image) for image in images))
            log.info(
                "contents.backfill_progress moved=%d duplicates=%d skipped=%d",
                totals.moved,
                totals.duplicates,
                totals.skipped,
            )
        await deletions.delete_objects(pool, store)
    finally:
        await store.aclose()
        await pool.close()
    return totals


async def _move(
    pool: Pool, store: ObjectStore, image: dict[str, Any], totals: BackfillTotals
) -> None:
    tally = ByteTally(image["size"], {})
    try:
        await store.read_into(
            image["storage_key"], cast(IO[bytes], _Hashing(tally)), max_bytes=image["size"]
        )
        tally.verify()
    except NotStored as exc:
        log.warning("contents.backfill_skipped image_id=%s reason=%s", image["id"], exc)
        totals.skipped += 1
        return
    sha256 = tally.sha256.hexdigest()
    key = contents.content_key(sha256)
    async with pool.connection() as conn:
        known = await contents.is_stored(conn, sha256, tally.size)
    if not known:
        await store.copy(image["storage_key"], key)
    thumbnail = None
    if image["thumbnail_key"]:
        thumbnail = contents.thumbnail_key(key)
        if not known:
            try:
                await store.copy(image["thumbnail_key"], thumbnail)
            except Exception:
                thumbnail = None
    stored = StoredObject(
        key=key,
        storage_path=f"s3://{store.bucket}/{key}",
        size=tally.size,
        content_type=image["mime_type"],
        checksums={**image["checksums"], **tally.checksums()},
        reused=known,
    )
    moved = False
    async with pool.connection() as conn, conn.transaction() as moving:
        for gone in await contents.record_contents(conn, [stored]):
            if not await store.exists(gone):
                # Deleted after the copy: nothing recorded; the next run copies it again.
                raise psycopg.Rollback(moving)
        # False when the image changed meanwhile: its content is not recorded either (a copy
        # no content uses is the sweep's).
        moved = await contents.move_image_to_content(conn, image, stored, thumbnail)
        if not moved:
            raise psycopg.Rollback(moving)
    if moved:
        totals.moved += 1
        totals.duplicates += known
    else:
        totals.skipped += 1


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m worker.contents.backfill", description=__doc__)
    parser.add_argument("--max-images", type=int, default=100_000, help="at most this many")
    parser.add_argument("--concurrency", type=int, default=8, help="images moved at once")
    args = parser.parse_args()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s %(message)s")
    totals = asyncio.run(
        backfill(settings, max_images=args.max_images, concurrency=args.concurrency)
    )
    print(
        f"moved {totals.moved} images to their contents ({totals.duplicates} duplicates, "
        f"stored once); {totals.skipped} left as they were"
    )


if __name__ == "__main__":
    main()
