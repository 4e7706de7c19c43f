"""The periodic jobs, written once: each asks SQL what is due every few seconds and queues (or
does) what follows.

Every periodic task runs under a queueing lock of its own name, so that at most one of it
waits whatever the backlog, and under a Procrastinate periodic id, so that several workers
defer it once per tick. What it takes from SQL and the jobs it queues commit in one
transaction: a rollback leaves the rows for the next run, a commit never loses one."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from procrastinate import BaseRetryStrategy, JobContext

from domain.db import Connection
from domain.task_names import LISTING_QUEUE
from worker import jobs, metrics
from worker.services import Services, services_of

T = TypeVar("T")


def periodic_task(
    name: str,
    periodic_id: str,
    every_seconds: int,
    work: Callable[[Services], Awaitable[object]],
    *,
    retry: BaseRetryStrategy | None,
    queue: str = LISTING_QUEUE,
    priority: int = 0,
) -> Any:
    """Register `work` as the task `name`, deferred every `every_seconds` (croniter puts
    seconds in the sixth field) and retried by `retry` (None: not at all). Its job takes a
    `timestamp`, which Procrastinate's periodic deferrer gives (and anyone else may)."""

    async def run(context: JobContext, timestamp: int) -> None:
        with metrics.job_run(name):
            await work(services_of(context))

    task = jobs.app.task(
        name=name,
        queue=queue,
        priority=priority,
        queueing_lock=name,
        pass_context=True,
        retry=retry if retry is not None else False,
    )(run)
    return jobs.app.periodic(
        cron=f"* * * * * */{every_seconds}",
        periodic_id=periodic_id,
        priority=priority,
        queueing_lock=name,
    )(task)


async def take_and_queue(
    services: Services,
    take: Callable[[Connection], Awaitable[T]],
    queue: Callable[[Connection, T], Awaitable[None]],
) -> T:
    """What `take` took from SQL, after `queue` deferred its jobs, on one transaction."""
    async with services.pool.connection() as conn, conn.transaction():
        taken = await take(conn)
        await queue(conn, taken)
    return taken
