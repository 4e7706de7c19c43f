"""Deferring worker jobs. The API knows the worker's tasks only by name (domain.task_names):
it shares Postgres with the worker, and their names, never the tasks' code."""

from typing import Any

import procrastinate
from procrastinate import PsycopgConnector

from domain.db import Connection
from domain.task_names import (
    LISTING_QUEUE,
    QUEUE_IMPORTS_IN_TURN,
    QUEUE_REQUEUED_FILES,
    START_IMPORT,
)


def create_job_app() -> procrastinate.App:
    """A Procrastinate app that only defers; it is opened on the API's own pool."""
    return procrastinate.App(connector=PsycopgConnector())


async def defer_start_import(job_app: procrastinate.App, conn: Connection, import_id: str) -> int:
    """Queue the job that starts an import, inside the caller's transaction: the import row
    and its job commit or roll back together."""
    deferrer: Any = job_app.configure_task(START_IMPORT, queue=LISTING_QUEUE, connection=conn)
    job_id: int = await deferrer.defer_async(import_id=import_id)
    return job_id


async def defer_queue_requeued_files(job_app: procrastinate.App, conn: Connection) -> None:
    """Ask the worker now, inside the caller's transaction, to queue the transfers of files put
    back to pending (it also looks every few seconds)."""
    await _defer_periodic_now(job_app, conn, QUEUE_REQUEUED_FILES)


async def defer_queue_imports_in_turn(job_app: procrastinate.App, conn: Connection) -> None:
    """Ask the worker now, inside the caller's transaction, to start the imports whose turn has
    come: a running import ended (it also looks every few seconds)."""
    await _defer_periodic_now(job_app, conn, QUEUE_IMPORTS_IN_TURN)


async def _defer_periodic_now(job_app: procrastinate.App, conn: Connection, name: str) -> None:
    """A run of the periodic job `name` now; one such job waiting is enough."""
    deferrer: Any = job_app.configure_task(
        name, queue=LISTING_QUEUE, queueing_lock=name, connection=conn
    )
    try:
        # A savepoint: finding one waiting already must not abort the caller's transaction.
        async with conn.transaction():
            await deferrer.defer_async(timestamp=0)
    except procrastinate.exceptions.AlreadyEnqueued:
        pass  # the one waiting does it too


async def cancel_jobs(job_app: procrastinate.App, job_ids: list[int]) -> int:
    """Cancel queued jobs through Procrastinate's job manager; returns how many it cancelled
    (a job a worker took meanwhile is not: it ends by itself, finding its import cancelled)."""
    cancelled = 0
    for job_id in job_ids:
        if await job_app.job_manager.cancel_job_by_id_async(job_id):
            cancelled += 1
    return cancelled
