"""The Procrastinate app and the follow-up jobs the pipeline defers, always on the caller's
connection so they commit or roll back with the rows that explain them."""

import logging
from typing import Any

import procrastinate
import psycopg

from domain.db import Connection
from domain.task_names import (
    DELIVER_WEBHOOK,
    DERIVATIVES_QUEUE,
    LIST_FOLDER_PAGE,
    LISTING_QUEUE,
    MAKE_DERIVATIVES,
    QUEUE_IMPORTS_IN_TURN,
    START_IMPORT,
    TRANSFER_BATCH,
    TRANSFER_QUEUE,
    WEBHOOKS_QUEUE,
)

# On their own queue, below the transfers.
DERIVATIVES_PRIORITY = -10
# Listing fans work out, so it goes first: a page listed early feeds many transfers.
LISTING_PRIORITY = 10
# Putting a dead worker's jobs back goes before everything.
RECOVERY_PRIORITY = 100
# A transfer batch's priority goes down by one for every this many files its import listed
# before it: the first thousand files of every import go before the second thousand of any, so
# imports running at once take turns in the queue, and a small one started during a huge one
# is not queued behind all of it (Procrastinate takes the highest priority first, then the
# oldest job).
FILES_PER_TRANSFER_PRIORITY = 1000
# An import's statuses once it ended: its running slot is free.
ENDED_STATUSES = frozenset({"completed", "completed_with_errors", "failed", "cancelled"})

app = procrastinate.App(connector=procrastinate.PsycopgConnector())
log = logging.getLogger("worker.jobs")


async def recover_stalled_jobs(seconds_since_heartbeat: float) -> int:
    """Put back in the queue the jobs left `doing` by workers that are gone: no heartbeat for
    `seconds_since_heartbeat`, or unregistered (their jobs keep no worker). Every step is
    idempotent, so a job whose work was done but whose end went unrecorded just runs again."""
    manager = app.job_manager
    recovered = 0
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat):
        try:
            await manager.retry_job(job)
        except procrastinate.exceptions.ConnectorException as exc:
            if not isinstance(exc.__cause__, psycopg.errors.RaiseException):
                raise
            # No longer `doing`: another worker's recovery got to it first.
            log.debug("jobs.recovery_skipped job_id=%s reason=%s", job.id, exc)
            continue
        recovered += 1
        log.warning("jobs.recovered_stalled job_id=%s task=%s", job.id, job.task_name)
    return recovered


async def defer_start_import(conn: Connection, import_id: str) -> None:
    """The job that starts an import (a sync's run; the API defers the others)."""
    deferrer: Any = app.configure_task(START_IMPORT, queue=LISTING_QUEUE, connection=conn)
    await deferrer.defer_async(import_id=import_id)


async def queue_imports_in_turn_if_ended(conn: Connection, import_status: str | None) -> None:
    """When the caller's transaction ends an import, its slot is free: `queue_imports_in_turn`."""
    if import_status in ENDED_STATUSES:
        await queue_imports_in_turn(conn)


async def queue_imports_in_turn(conn: Connection) -> None:
    """A run now, on the caller's transaction, of the periodic job that queues the start of the
    imports whose turn has come; one such job waiting is enough."""
    deferrer: Any = app.configure_task(
        QUEUE_IMPORTS_IN_TURN,
        queue=LISTING_QUEUE,
        priority=LISTING_PRIORITY,
        queueing_lock=QUEUE_IMPORTS_IN_TURN,
        connection=conn,
    )
    try:
        # A savepoint: finding one waiting already must not abort the caller's transaction.
        async with conn.transaction():
            await deferrer.defer_async(timestamp=0)
    except procrastinate.exceptions.AlreadyEnqueued:
        pass  # the one waiting starts them too


async def defer_list_page(conn: Connection, import_id: str, folder_id: str) -> None:
    # No Procrastinate lock: the next page's job becomes visible only when this page's
    # transaction commits, and the checkpoint guard refuses a page committed twice. (A lock
    # would also leave the next page waiting for the worker's poll instead of its NOTIFY.)
    deferrer: Any = app.configure_task(
        LIST_FOLDER_PAGE, queue=LISTING_QUEUE, priority=LISTING_PRIORITY, connection=conn
    )
    await deferrer.defer_async(import_id=import_id, folder_id=folder_id)


async def defer_transfer_batches(
    conn: Connection,
    import_id: str,
    batches: list[list[str]],
    *,
    in_seconds: float = 0,
    listed_before: int = 0,
) -> None:
    """One job per batch, all in one statement, after the batches of the imports' files
    listed before `listed_before` files of this one (files retried or requeued go first)."""
    if not batches:
        return
    deferrer: Any = app.configure_task(
        TRANSFER_BATCH,
        queue=TRANSFER_QUEUE,
        priority=-(max(listed_before, 0) // FILES_PER_TRANSFER_PRIORITY),
        connection=conn,
        schedule_in={"seconds": in_seconds} if in_seconds > 0 else None,
    )
    await deferrer.batch_defer_async(
        *({"import_id": import_id, "file_ids": file_ids} for file_ids in batches)
    )


async def defer_derivatives(
    conn: Connection, import_id: str | None, image_ids: list[str], *, batch_images: int
) -> None:
    """Jobs making the derivatives of `image_ids`, `batch_images` images each, in one
    statement. The import's id lets its cancellation cancel them too."""
    if not image_ids:
        return
    deferrer: Any = app.configure_task(
        MAKE_DERIVATIVES,
        queue=DERIVATIVES_QUEUE,
        priority=DERIVATIVES_PRIORITY,
        connection=conn,
    )
    await deferrer.batch_defer_async(
        *(
            {"import_id": import_id, "image_ids": image_ids[start : start + batch_images]}
            for start in range(0, len(image_ids), batch_images)
        )
    )


async def defer_webhook_deliveries(conn: Connection, delivery_ids: list[str]) -> None:
    """One `webhook.deliver` job per delivery, all in one statement. The job carries the
    delivery's id only (never `import_id`: cancelling an import cancels the jobs that name it,
    and its `import.cancelled` event must still go)."""
    if not delivery_ids:
        return
    deferrer: Any = app.configure_task(DELIVER_WEBHOOK, queue=WEBHOOKS_QUEUE, connection=conn)
    await deferrer.batch_defer_async(
        *({"delivery_id": delivery_id} for delivery_id in delivery_ids)
    )
