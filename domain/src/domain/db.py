"""How both services talk to PostgreSQL: connections whose rows are dicts, and the check their
pools run on a connection before handing it out."""

import select
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool

Connection = AsyncConnection[DictRow]


async def check_connection(conn: AsyncConnection[Any]) -> None:
    """The pool's check of a connection before handing it out (the worker's and the api's),
    without a round trip while the connection is plainly alive. An idle connection has nothing
    to read unless the server closed it (a restart, a terminated backend) or sent it a notice:
    then psycopg_pool's own check (an empty query) runs, and when it fails the pool replaces
    the connection."""
    if conn.closed or _has_input(conn.pgconn.socket):
        await AsyncConnectionPool.check_connection(conn)


def _has_input(fd: int) -> bool:
    # poll, not select: select cannot watch a descriptor numbered 1024 or more, which a busy
    # worker's sockets reach.
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
