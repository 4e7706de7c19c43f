"""The worker's connection pool, shared by Procrastinate and the pipeline's own queries."""

from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from worker.settings import Settings

Connection = AsyncConnection[DictRow]
Pool = AsyncConnectionPool[Connection]


async def _autocommit(conn: Connection) -> None:
    """A lone statement is then one round trip (no BEGIN/COMMIT around it); steps that need
    several statements together open `conn.transaction()` explicitly. Set here rather than in
    the connect kwargs, which Procrastinate's listener connection also receives."""
    await conn.set_autocommit(True)


def create_pool(settings: Settings) -> Pool:
    return AsyncConnectionPool(
        settings.database_url,
        # Every running job may hold a connection, plus Procrastinate's fetch/listen/heartbeat.
        min_size=2,
        max_size=max(settings.db_pool_max_size, settings.worker_concurrency + 4),
        kwargs={"row_factory": dict_row},
        configure=_autocommit,
        connection_class=AsyncConnection[DictRow],
        check=AsyncConnectionPool.check_connection,
        open=False,
    )
