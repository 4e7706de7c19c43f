"""`python -m worker.derivatives.backfill`: request derivatives for the images that have none
and no job making them (stored before derivatives existed, or whose job was cancelled or gave
up); the workers queue their jobs within seconds.

Bounded and resumable: it requests at most `--max-images` images, `--chunk` at a time, each
chunk committed on its own, so stopping it anywhere loses nothing and running it again goes on
where it stopped. The work is the SQL function `queue_image_derivatives`
(migrations/schema/imports.sql), which operators can call from psql as well.
"""

import argparse
import logging

import psycopg

from worker.settings import get_settings

log = logging.getLogger("worker.derivatives.backfill")


def queue_derivatives(database_url: str, *, max_images: int, chunk: int) -> int:
    """Request up to `max_images` images, in chunks of `chunk`; how many were requested."""
    queued = 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        while queued < max_images:
            row = conn.execute(
                "SELECT queue_image_derivatives(%s)", (min(chunk, max_images - queued),)
            ).fetchone()
            count = row[0] if row else 0
            if not count:
                break
            queued += count
            log.info("derivatives.backfill_queued images=%d total=%d", count, queued)
    return queued


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m worker.derivatives.backfill", description=__doc__
    )
    parser.add_argument("--max-images", type=int, default=100_000, help="at most this many")
    parser.add_argument("--chunk", type=int, default=1_000, help="images per transaction")
    args = parser.parse_args()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s %(message)s")
    queued = queue_derivatives(
        settings.database_url,
        max_images=args.max_images,
        chunk=args.chunk,
    )
    print(f"requested derivatives for {queued} images; the workers queue their jobs")


if __name__ == "__main__":
    main()
