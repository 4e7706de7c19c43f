"""The connection pool, and the one transaction each request runs in."""

from collections.abc import AsyncIterator

from litestar.datastructures import State
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from api.settings import Settings

Connection = AsyncConnection[DictRow]


def create_pool(settings: Settings) -> AsyncConnectionPool[Connection]:
    return AsyncConnectionPool(
        settings.database_url,
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        kwargs={"row_factory": dict_row},
        connection_class=AsyncConnection[DictRow],
        check=AsyncConnectionPool.check_connection,
        open=False,
    )


async def provide_connection(state: State) -> AsyncIterator[Connection]:
    """A request-scoped connection in a transaction: committed when the handler returns,
    rolled back when it raises. Inner functions never commit."""
    pool: AsyncConnectionPool[Connection] = state.db_pool
    async with pool.connection() as conn, conn.transaction():
        yield conn
