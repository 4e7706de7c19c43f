"""The connection pool, and the one transaction each request runs in (a read of one statement
runs as its own)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from litestar.datastructures import State
from psycopg import AsyncConnection, Error
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from api.settings import Settings
from domain.db import Connection, check_connection

# A server that does not answer a connection attempt within this is treated as down.
CONNECT_TIMEOUT_SECONDS = 3
# psycopg_pool retries a lost connection with a doubling delay for this long before giving it
# up. Its default, five minutes, lets the delay grow past any short outage (after a 20 s
# restart the pool would wait another 16 s or more, answering 503 all the while); given up
# sooner, the next request asks for a fresh connection at once.
RECONNECT_TIMEOUT_SECONDS = 2.0


def create_pool(settings: Settings) -> AsyncConnectionPool[Connection]:
    timeout_ms = round(settings.db_statement_timeout_seconds * 1000)
    return AsyncConnectionPool(
        settings.database_url,
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        timeout=settings.db_pool_timeout_seconds,
        kwargs={
            "row_factory": dict_row,
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            # Set when the connection is made: it holds for every statement, in a transaction
            # or not (SET LOCAL would need one, and the reads run in autocommit).
            "options": f"-c statement_timeout={timeout_ms}",
        },
        connection_class=AsyncConnection[DictRow],
        check=check_connection,
        reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
        open=False,
    )


async def provide_connection(state: State) -> AsyncIterator[Connection]:
    """A request-scoped connection in a transaction: committed when the handler returns,
    rolled back when it raises. Inner functions never commit."""
    pool: AsyncConnectionPool[Connection] = state.db_pool
    async with pool.connection() as conn, conn.transaction():
        # DB_STATEMENT_TIMEOUT_SECONDS bounds the reads a crowd can repeat; a change (a retry
        # requeueing 100,000 failed files) takes as long as it needs rather than half-happen.
        await conn.execute("SET LOCAL statement_timeout = 0")
        yield conn


async def provide_autocommit_connection(state: State) -> AsyncIterator[Connection]:
    """Each statement a transaction of its own (autocommit): for routes that read with one
    statement (no BEGIN and COMMIT round trips), and for a state change that must be committed
    before what follows it (cancelling an import, then its queued jobs)."""
    async with autocommit_connection(state.db_pool) as conn:
        yield conn


@asynccontextmanager
async def autocommit_connection(pool: AsyncConnectionPool[Connection]) -> AsyncIterator[Connection]:
    async with pool.connection() as conn:
        await conn.set_autocommit(True)
        try:
            yield conn
        finally:
            # As psycopg_pool's own check does: a connection cut mid-statement is discarded by
            # the pool anyway, and its error is the one to report.
            with suppress(Error):
                await conn.set_autocommit(False)
