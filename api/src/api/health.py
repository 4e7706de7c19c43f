"""Liveness and readiness."""

from litestar import get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.response import Response


@get(
    "/healthz",
    tags=["health"],
    responses={
        503: ResponseSpec(
            data_container=dict[str, str],
            description="The database does not answer: `status` is `unavailable`.",
            generate_examples=False,
        )
    },
)
async def healthz(state: State) -> Response[dict[str, str]]:
    """Ready when the database answers."""
    try:
        async with state.db_pool.connection(timeout=2) as conn:
            await conn.execute("SELECT 1")
    except Exception as exc:
        return Response({"status": "unavailable", "database": str(exc)[:200]}, status_code=503)
    return Response({"status": "ok", "database": "ok"})
