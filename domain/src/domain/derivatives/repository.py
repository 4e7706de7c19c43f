"""SQL on images' derivatives (thumbnails and facts): which images wait for them, what became of
each, and an import's progress (migrations/schema/derivatives.sql).

Functions run inside the caller's transaction and never commit: the request or job that calls
them owns it.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from psycopg.rows import args_row

from domain.db import Connection


async def get_images_to_derive(conn: Connection, image_ids: list[str]) -> list[dict[str, Any]]:
    """The images of a derivative job still waiting for their derivatives (a re-run skips the
    ones an earlier run recorded), in id order."""
    cur = await conn.execute(
        """
        SELECT id::text AS id, storage_key, size, md5_checksum
        FROM images
        WHERE id = ANY(%s::uuid[]) AND derivative_state = 'pending'
        ORDER BY id
        """,
        (image_ids,),
    )
    return await cur.fetchall()


@dataclass(frozen=True)
class DerivativeOutcome:
    """What became of one image's derivatives: made (its facts and thumbnail's key), or not
    possible with the reason. `md5_checksum` and `size` are those of the bytes read, so that
    an image whose bytes changed meanwhile keeps waiting for the job of its new bytes."""

    image_id: str
    md5_checksum: str | None
    size: int
    width: int | None = None
    height: int | None = None
    taken_at: datetime | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    animated: bool | None = None
    thumbnail_key: str | None = None
    not_possible: str | None = None


async def record_derivatives(conn: Connection, outcomes: list[DerivativeOutcome]) -> int:
    """pending → done | not_possible, for the images whose bytes are still the ones read;
    how many were recorded."""
    if not outcomes:
        return 0
    cur = await conn.execute(
        """
        UPDATE images im
        SET derivative_state = CASE WHEN o.reason IS NULL THEN 'done' ELSE 'not_possible' END,
            derivative_reason = o.reason, width = o.width, height = o.height,
            taken_at = o.taken_at, camera_make = o.make, camera_model = o.model,
            animated = o.animated, thumbnail_key = o.thumbnail_key
        FROM unnest(%s::uuid[], %s::text[], %s::bigint[], %s::int[], %s::int[],
                    %s::timestamp[], %s::text[], %s::text[], %s::bool[], %s::text[], %s::text[])
             AS o(id, md5, size, width, height, taken_at, make, model, animated, thumbnail_key,
                  reason)
        WHERE im.id = o.id AND im.derivative_state = 'pending'
          AND im.md5_checksum IS NOT DISTINCT FROM o.md5 AND im.size = o.size
        """,
        (
            [o.image_id for o in outcomes],
            [o.md5_checksum for o in outcomes],
            [o.size for o in outcomes],
            [o.width for o in outcomes],
            [o.height for o in outcomes],
            [o.taken_at for o in outcomes],
            [o.camera_make for o in outcomes],
            [o.camera_model for o in outcomes],
            [o.animated for o in outcomes],
            [o.thumbnail_key for o in outcomes],
            [o.not_possible for o in outcomes],
        ),
    )
    return cur.rowcount


async def take_requested_derivatives(conn: Connection, limit: int) -> list[str]:
    """Images the backfill marked `requested`, now `pending` in the caller's transaction, which
    queues their jobs: whichever worker commits queues them, once."""
    cur = await conn.execute(
        """
        UPDATE images SET derivative_state = 'pending'
        WHERE id IN (SELECT id FROM images WHERE derivative_state = 'requested'
                     ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
        RETURNING id::text AS id
        """,
        (limit,),
    )
    return sorted(row["id"] for row in await cur.fetchall())


async def release_images_to_derive(conn: Connection, image_ids: list[str]) -> None:
    """Images whose derivative job gave up go back to `missing`, for the backfill to queue."""
    await conn.execute(
        """
        UPDATE images SET derivative_state = 'missing'
        WHERE id = ANY(%s::uuid[]) AND derivative_state = 'pending'
        """,
        (image_ids,),
    )


class DerivativeProgress(NamedTuple):
    done: int
    pending: int
    not_possible: int
    missing: int


async def derivative_progress(conn: Connection, import_id: str) -> DerivativeProgress | None:
    """How far the derivatives of an import's images are (None for an unknown import): the
    image_derivative_progress view, a GROUP BY over an index."""
    cur = conn.cursor(row_factory=args_row(DerivativeProgress))
    await cur.execute(
        """SELECT done, pending, not_possible, missing FROM image_derivative_progress
           WHERE import_id = %s""",
        (import_id,),
    )
    return await cur.fetchone()
