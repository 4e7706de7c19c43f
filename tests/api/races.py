"""Two requests in flight at once, at the service layer on real connections: the first holds
its transaction open until the second is waiting on a lock the first took, then commits. And a
session of another process (the worker's) holding locks while a request is made."""

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from domain.db import Connection
from tests.conftest import Stack

T = TypeVar("T")
Pool = AsyncConnectionPool[Connection]


async def race(
    stack: Stack,
    pool: Pool,
    first: Callable[[Connection], Awaitable[T]],
    second: Callable[[Connection], Awaitable[T]],
) -> tuple[T, T | BaseException]:
    """`first`'s result, and `second`'s result or the exception it raised."""
    first_done = asyncio.Event()
    commit_first = asyncio.Event()
    second_pid: list[int] = []

    async def run_first() -> T:
        async with pool.connection() as conn, conn.transaction():
            result = await first(conn)
            first_done.set()
            await commit_first.wait()
        return result

    async def run_second() -> T:
        await first_done.wait()
        async with pool.connection() as conn, conn.transaction():
            second_pid.append(conn.info.backend_pid)
            return await second(conn)

    tasks = [asyncio.create_task(run_first()), asyncio.create_task(run_second())]
    try:
        for _ in range(1000):
            await asyncio.sleep(0.01)
            if second_pid and _is_waiting_on_a_lock(stack, second_pid[0]):
                break
        else:
            raise AssertionError("the second request never waited for the first")
    finally:
        commit_first.set()
    first_result, second_result = await asyncio.gather(*tasks, return_exceptions=True)
    if isinstance(first_result, BaseException):
        raise first_result
    return first_result, second_result


def _is_waiting_on_a_lock(stack: Stack, pid: int) -> bool:
    with stack.db() as db:
        row = db.execute(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
    return row is not None and row[0] == "Lock"


Statements = Callable[[psycopg.Connection[tuple[object, ...]]], object]


@contextmanager
def held_by_another_session(
    stack: Stack, hold: Statements, then: Statements | None = None, seconds: float = 1.5
) -> Iterator[list[BaseException]]:
    """Inside the block, a transaction of its own (on a thread, as another process's would be)
    has run `hold` and keeps what it locked for `seconds`; then it runs `then` and commits.
    Yields the errors that session met, complete once the block is left."""
    locked = threading.Event()
    errors: list[BaseException] = []

    def session() -> None:
        try:
            with psycopg.connect(stack.database_url) as conn:
                hold(conn)
                locked.set()
                time.sleep(seconds)
                if then is not None:
                    then(conn)
        except BaseException as exc:
            errors.append(exc)
            locked.set()

    thread = threading.Thread(target=session)
    thread.start()
    locked.wait(10)
    try:
        yield errors
    finally:
        thread.join(10)
