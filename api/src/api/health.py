"""Liveness and readiness."""

from litestar import get
from litestar.datastructures import State
from litestar.response import Response


@get("/healthz", tags=["health"])
async def healthz(state: State) -> Response[dict[str, str]]:
    """Ready when the database answers."""
    try:
        async with state.db_pool.connection(timeout=2) as conn:
            await conn.execute("SELECT 1")
    except Exception as exc:
        return Response({"status": "unavailable", "database": str(exc)[:200]}, status_code=503)
    return Response({"status": "ok", "database": "ok"})
