"""Liveness and readiness."""

import asyncio

from litestar import get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.response import Response
from psycopg_pool import AsyncConnectionPool

from api.error_responses import query_refusal
from api.storage import BucketCheck
from domain.db import Connection

# Probes time out after a few seconds; each check answers within this.
CHECK_TIMEOUT_SECONDS = 2.0


@get("/healthz", tags=["health"], responses=query_refusal())
async def healthz() -> dict[str, str]:
    """Alive: the process serves requests. Says nothing of the database or the store."""
    return {"status": "ok"}


@get(
    "/readyz",
    tags=["health"],
    responses={
        **query_refusal(),
        503: ResponseSpec(
            data_container=dict[str, str],
            description="The database or the object store does not answer: `status` is "
            "`unavailable`, and each of them says which.",
            generate_examples=False,
        ),
    },
)
async def readyz(state: State) -> Response[dict[str, str]]:
    """Ready when the database and the object store both answer; 503 naming which does not."""
    bucket_check: BucketCheck = state.bucket_check
    database, storage = await asyncio.gather(
        _database_answers(state.db_pool), bucket_check.answers(CHECK_TIMEOUT_SECONDS)
    )
    body = {
        "status": "ok" if database and storage else "unavailable",
        "database": "ok" if database else "unavailable",
        "storage": "ok" if storage else "unavailable",
    }
    return Response(body, status_code=200 if database and storage else 503)


async def _database_answers(pool: AsyncConnectionPool[Connection]) -> bool:
    # Any failure is an answer here (the probe's reason stays out of the body).
    try:
        async with pool.connection(timeout=CHECK_TIMEOUT_SECONDS) as conn:
            await conn.execute("SELECT 1")
    except Exception:
        return False
    return True
