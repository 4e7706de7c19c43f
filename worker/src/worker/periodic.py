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
from domain.periodic_schedules import PeriodicSchedule
from domain.task_names import LISTING_QUEUE
from worker import jobs, metrics
from worker.failure_ladder import outcome_of, raise_if_operator_aborted, record_failure
from worker.retry import INTERRUPTIONS
from worker.services import Services, services_of

T = TypeVar("T")


def periodic_task(
    schedule: PeriodicSchedule,
    work: Callable[[Services], Awaitable[object]],
    *,
    retry: BaseRetryStrategy | None,
    queue: str = LISTING_QUEUE,
    priority: int = 0,
) -> Any:
    """Register `work` as the schedule's task, deferred at each of its ticks (the schedule,
    in domain/periodic_schedules.py, is what the API reads for the next run) and retried by
    `retry` (None: not at all). Its job takes a `timestamp`, which Procrastinate's periodic
    deferrer gives (and anyone else may). A failed run is recorded with the job
    (failure_ladder.record_failure)."""
    name = schedule.task_name

    async def run(context: JobContext, timestamp: int) -> None:
        with metrics.job_run(name):
            try:
                await work(services_of(context))
            except INTERRUPTIONS as exc:
                raise_if_operator_aborted(context, exc)
                raise
            except Exception as exc:
                await record_failure(context, exc, outcome_of(context, exc))
                raise

    task = jobs.app.task(
        name=name,
        queue=queue,
        priority=priority,
        queueing_lock=name,
        pass_context=True,
        retry=retry if retry is not None else False,
    )(run)
    return jobs.app.periodic(
        cron=schedule.cron,
        periodic_id=schedule.periodic_id,
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
