"""SQL on webhook deliveries (migrations/schema/webhooks.sql), as the API sees them."""

from typing import Any

from api.db import Connection


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
