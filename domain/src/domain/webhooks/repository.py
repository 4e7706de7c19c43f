"""SQL on webhook deliveries and their attempts (migrations/schema/webhooks.sql): the worker
claims and records them, the api lists them.

Functions run inside the caller's transaction and never commit: the job or request that calls
them owns it.
"""

from datetime import datetime
from typing import Any

from domain.db import Connection


async def claim_pending_deliveries(conn: Connection, limit: int) -> list[str]:
    """Up to `limit` pending deliveries, oldest first, moved to queued; rows another worker is
    claiming are skipped, not waited for. The caller defers their jobs in the same
    transaction."""
    cur = await conn.execute(
        """
        WITH picked AS (
            SELECT id FROM webhook_deliveries
            WHERE state = 'pending'
            ORDER BY created_at
            LIMIT %s
            FOR UPDATE SKIP LOCKED
        )
        UPDATE webhook_deliveries d SET state = 'queued', next_attempt_at = now()
        FROM picked WHERE d.id = picked.id
        RETURNING d.id
        """,
        (limit,),
    )
    return [str(row["id"]) for row in await cur.fetchall()]


async def get_delivery(conn: Connection, delivery_id: str) -> dict[str, Any] | None:
    """The delivery and the import's id, or None when it is gone (its import was deleted)."""
    cur = await conn.execute(
        """
        SELECT id, import_id, sync_id, url, event_type, payload, state, attempts, created_at,
               next_attempt_at
        FROM webhook_deliveries WHERE id = %s
        """,
        (delivery_id,),
    )
    return await cur.fetchone()


async def record_attempt(
    conn: Connection,
    delivery_id: str,
    *,
    started_at: datetime,
    duration_ms: int,
    response_status: int | None,
    error: str | None,
    state: str,
    next_attempt_at: datetime | None,
) -> int | None:
    """One attempt, and the delivery's state after it (queued while it is retried, delivered
    or failed). Only a queued delivery takes an attempt: None when it was not (delivered or
    given up meanwhile, or gone), and nothing is recorded."""
    cur = await conn.execute(
        """
        UPDATE webhook_deliveries
        SET attempts = attempts + 1,
            state = %(state)s,
            last_error = %(error)s,
            delivered_at = CASE WHEN %(state)s = 'delivered' THEN now() END,
            next_attempt_at = %(next_attempt_at)s
        WHERE id = %(id)s AND state = 'queued'
        RETURNING attempts
        """,
        {"id": delivery_id, "state": state, "error": error, "next_attempt_at": next_attempt_at},
    )
    row = await cur.fetchone()
    if row is None:
        return None
    attempt: int = row["attempts"]
    await conn.execute(
        """
        INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms,
                                      response_status, error)
        VALUES (%s, %s, %s, %s, %s, %s)
        """,
        (delivery_id, attempt, started_at, duration_ms, response_status, error),
    )
    return attempt


async def give_up_delivery(conn: Connection, delivery_id: str, reason: str) -> None:
    """A queued delivery failed for good, without another attempt."""
    await conn.execute(
        """
        UPDATE webhook_deliveries SET state = 'failed', last_error = %s, next_attempt_at = NULL
        WHERE id = %s AND state = 'queued'
        """,
        (reason, delivery_id),
    )


async def list_deliveries(conn: Connection, import_id: str, *, limit: int) -> list[dict[str, Any]]:
    """The import's newest deliveries, each with its attempts in order (a JSON array), in one
    statement."""
    cur = await conn.execute(
        """
        SELECT d.id, d.event_type, d.url, d.state, d.created_at, d.delivered_at,
               d.next_attempt_at, d.last_error,
               coalesce((SELECT jsonb_agg(jsonb_build_object(
                                   'attempt', a.attempt, 'started_at', a.started_at,
                                   'duration_ms', a.duration_ms,
                                   'response_status', a.response_status, 'error', a.error)
                                 ORDER BY a.attempt)
                         FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS attempts
        FROM webhook_deliveries d
        WHERE d.import_id = %s
        ORDER BY d.created_at DESC, d.id DESC
        LIMIT %s
        """,
        (import_id, limit),
    )
    return await cur.fetchall()
