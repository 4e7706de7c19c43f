"""The worker's connection pool, shared by Procrastinate and the pipeline's own queries."""

from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from worker.settings import Settings

Connection = AsyncConnection[DictRow]
Pool = AsyncConnectionPool[Connection]


def create_pool(settings: Settings) -> Pool:
    return AsyncConnectionPool(
        settings.database_url,
        # Every running job may hold a connection, plus Procrastinate's fetch/listen/heartbeat.
        min_size=2,
        max_size=max(settings.db_pool_max_size, settings.worker_concurrency + 4),
        kwargs={"row_factory": dict_row},
        connection_class=AsyncConnection[DictRow],
        check=AsyncConnectionPool.check_connection,
        open=False,
    )
