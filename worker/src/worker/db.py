"""The worker's connection pool, shared by Procrastinate and the pipeline's own queries."""

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from domain.db import Connection, check_connection
from worker.settings import Settings

Pool = AsyncConnectionPool[Connection]

# A server that does not answer a connection attempt within this is treated as down (the
# default is to wait as long as the network does).
CONNECT_TIMEOUT_SECONDS = 5
# psycopg_pool retries a lost connection with a doubling delay for this long before giving it
# up. Its default, five minutes, lets the delay grow past any short outage: after a 20 s
# restart the pool would wait another 16 s or more. Given up sooner, the next request asks
# for a fresh connection at once.
RECONNECT_TIMEOUT_SECONDS = 4.0


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
        timeout=settings.db_pool_timeout_seconds,
        kwargs={"row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT_SECONDS},
        configure=_autocommit,
        connection_class=AsyncConnection[DictRow],
        check=check_connection,
        reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
        open=False,
    )


async def database_answers(settings: Settings) -> bool:
    """Whether a new connection to the database can be made and answers; a connection of its
    own, so that neither the pool's state nor its reconnection delays colour the answer."""
    try:
        async with await psycopg.AsyncConnection.connect(
            settings.database_url, connect_timeout=CONNECT_TIMEOUT_SECONDS, autocommit=True
        ) as conn:
            await conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True
