"""Job entry points. Each is thin: it turns a job into a pipeline call and decides, per failure
class, between retrying (transient, attempts left) and recording the failure for good."""

import logging

from procrastinate import JobContext, builtin_tasks

from domain import task_names as names
from worker import derivatives, jobs, metrics, pipeline, syncs, transfers, webhooks
from worker.retry import (
    TransientFailureRetry,
    WebhookAttemptFailed,
    WebhookDeliveryRetry,
    is_bug,
    is_last_attempt,
)
from worker.services import Services, services_of
from worker.sources.base import PermanentSourceError

log = logging.getLogger("worker.tasks")
retry = TransientFailureRetry()


# A bug is not retried, nor passed off as a source's failure: its traceback goes to the log, its
# job fails (and stays in the queue's table for operators), and the import says what happened.
def bug_report(exc: BaseException) -> str:
    return f"internal error (a bug; see the worker's log): {exc!r}"


async def fail_for_a_bug(services: Services, import_id: str, step: str, exc: Exception) -> None:
    log.exception("import.bug import_id=%s step=%s", import_id, step)
    await pipeline.fail_import(services, import_id, f"{step}: {bug_report(exc)}")


@jobs.app.task(name=names.START_IMPORT, queue=names.LISTING_QUEUE, pass_context=True, retry=retry)
async def start_import(context: JobContext, import_id: str) -> None:
    services = services_of(context)
    with metrics.job_run(names.START_IMPORT, retried=not is_last_attempt(context.job)) as run:
        try:
            await pipeline.start_import(services, import_id)
        except Exception as exc:
            if is_bug(exc):
                await fail_for_a_bug(services, import_id, f"import.start {import_id}", exc)
                run.failed()
                raise
            if isinstance(exc, PermanentSourceError) or is_last_attempt(context.job):
                await pipeline.fail_import(services, import_id, f"could not start: {exc}")
                run.failed()
                return
            raise


@jobs.app.task(
    name=names.LIST_FOLDER_PAGE, queue=names.LISTING_QUEUE, pass_context=True, retry=retry
)
async def list_folder_page(context: JobContext, import_id: str, folder_id: str) -> None:
    services = services_of(context)
    with metrics.job_run(names.LIST_FOLDER_PAGE, retried=not is_last_attempt(context.job)) as run:
        try:
            await pipeline.list_folder_pages(services, import_id, folder_id)
        except Exception as exc:
            if is_bug(exc):
                await fail_for_a_bug(services, import_id, f"listing folder {folder_id}", exc)
                run.failed()
                raise
            if isinstance(exc, PermanentSourceError) or is_last_attempt(context.job):
                await pipeline.fail_import(
                    services, import_id, f"listing folder {folder_id} failed: {exc}"
                )
                run.failed()
                return
            raise


@jobs.app.task(
    name=names.TRANSFER_BATCH, queue=names.TRANSFER_QUEUE, pass_context=True, retry=retry
)
async def transfer_batch(context: JobContext, import_id: str, file_ids: list[str]) -> None:
    # Each file's failures are handled inside the batch; what reaches here is a failure of the
    # batch as a whole (the database), retried as a job: the re-run moves what is still pending.
    services = services_of(context)
    with metrics.job_run(names.TRANSFER_BATCH, retried=not is_last_attempt(context.job)) as run:
        try:
            await transfers.transfer_batch(services, import_id, file_ids)
        except Exception as exc:
            if is_bug(exc):
                # Not retried, nor hidden as a source's failure: the traceback goes to the log,
                # the job fails (it stays in the queue's table), and its files fail saying
                # so, so the import ends and can be retried once the bug is fixed.
                log.exception("import.batch_bug import_id=%s files=%d", import_id, len(file_ids))
                reason = f"internal error (a bug; see the worker's log): {exc!r}"
                await transfers.fail_pending_files(services, import_id, file_ids, reason)
                run.failed()
                raise
            if is_last_attempt(context.job):
                await transfers.fail_pending_files(services, import_id, file_ids, str(exc))
                run.failed()
                return
            log.info(
                "import.batch_retry import_id=%s files=%d error=%s", import_id, len(file_ids), exc
            )
            raise


# Files a retry put back to pending get their transfer jobs here: at once when the API asks
# (it defers this job), within 10 s when an operator's SQL did it.
@jobs.app.periodic(
    cron="* * * * * */10",
    periodic_id="queue-requeued-files",
    queueing_lock=names.QUEUE_REQUEUED_FILES,
)
@jobs.app.task(
    name=names.QUEUE_REQUEUED_FILES,
    queue=names.LISTING_QUEUE,
    priority=jobs.LISTING_PRIORITY,
    queueing_lock=names.QUEUE_REQUEUED_FILES,
    pass_context=True,
    retry=retry,
)
async def queue_requeued_files(context: JobContext, timestamp: int) -> None:
    with metrics.job_run(names.QUEUE_REQUEUED_FILES, retried=False):
        await transfers.queue_requeued_files(services_of(context))


@jobs.app.task(
    name=names.MAKE_DERIVATIVES,
    queue=names.DERIVATIVES_QUEUE,
    priority=jobs.DERIVATIVES_PRIORITY,
    pass_context=True,
    retry=retry,
)
async def make_derivatives(
    context: JobContext, import_id: str | None, image_ids: list[str]
) -> None:
    # A file that does not decode is an outcome recorded inside; what reaches here is a
    # failure of the job as a whole (the database, a store that refuses), retried as a job.
    services = services_of(context)
    with metrics.job_run(names.MAKE_DERIVATIVES, retried=not is_last_attempt(context.job)) as run:
        try:
            await derivatives.make_derivatives(services, import_id, image_ids)
        except Exception as exc:
            if is_bug(exc):
                log.exception("derivatives.bug import_id=%s images=%d", import_id, len(image_ids))
                await derivatives.release(services, image_ids)
                run.failed()
                raise
            if is_last_attempt(context.job):
                await derivatives.release(services, image_ids)
                run.failed()
                log.warning(
                    "derivatives.gave_up import_id=%s images=%d error=%s",
                    import_id,
                    len(image_ids),
                    exc,
                )
                return
            raise


# Images a backfill requested get their derivative jobs here, within 10 s.
@jobs.app.periodic(
    cron="* * * * * */10",
    periodic_id="queue-requested-derivatives",
    queueing_lock=names.QUEUE_REQUESTED_DERIVATIVES,
)
@jobs.app.task(
    name=names.QUEUE_REQUESTED_DERIVATIVES,
    queue=names.LISTING_QUEUE,
    queueing_lock=names.QUEUE_REQUESTED_DERIVATIVES,
    pass_context=True,
    retry=retry,
)
async def queue_requested_derivatives(context: JobContext, timestamp: int) -> None:
    with metrics.job_run(names.QUEUE_REQUESTED_DERIVATIVES, retried=False):
        await derivatives.queue_requested(services_of(context))


# Sync runs start within 5 s of being due; several workers defer this job once per tick (its
# periodic id) and SQL's SKIP LOCKED starts each run once even if two ran at the same time.
@jobs.app.periodic(
    cron="* * * * * */5",
    periodic_id="start-due-sync-runs",
    queueing_lock=names.START_DUE_SYNC_RUNS,
)
@jobs.app.task(
    name=names.START_DUE_SYNC_RUNS,
    queue=names.LISTING_QUEUE,
    priority=jobs.LISTING_PRIORITY,
    queueing_lock=names.START_DUE_SYNC_RUNS,
    pass_context=True,
    retry=retry,
)
async def start_due_sync_runs(context: JobContext, timestamp: int) -> None:
    with metrics.job_run(names.START_DUE_SYNC_RUNS, retried=False):
        await syncs.start_due_runs(services_of(context))


# Images their sync found gone and says to delete: objects, then rows, within 10 s.
@jobs.app.periodic(
    cron="* * * * * */10",
    periodic_id="delete-removed-images",
    queueing_lock=names.DELETE_REMOVED_IMAGES,
)
@jobs.app.task(
    name=names.DELETE_REMOVED_IMAGES,
    queue=names.LISTING_QUEUE,
    queueing_lock=names.DELETE_REMOVED_IMAGES,
    pass_context=True,
    retry=retry,
)
async def delete_removed_images(context: JobContext, timestamp: int) -> None:
    with metrics.job_run(names.DELETE_REMOVED_IMAGES, retried=False):
        await syncs.delete_removed_images(services_of(context))


# croniter puts seconds in the sixth field: every 10 seconds. Recovery goes ahead of every
# listing page and transfer batch, whatever the backlog, and its queueing lock keeps at most one
# of it waiting: a busy spell never piles the periodic jobs up.
@jobs.app.periodic(
    cron="* * * * * */10",
    periodic_id="recover-stalled-jobs",
    priority=jobs.RECOVERY_PRIORITY,
    queueing_lock=names.RECOVER_STALLED_JOBS,
)
@jobs.app.task(
    name=names.RECOVER_STALLED_JOBS,
    queue=names.LISTING_QUEUE,
    priority=jobs.RECOVERY_PRIORITY,
    queueing_lock=names.RECOVER_STALLED_JOBS,
    pass_context=True,
)
async def recover_stalled_jobs(context: JobContext, timestamp: int) -> None:
    """Jobs of a worker that died (no heartbeat) go back to the queue."""
    with metrics.job_run(names.RECOVER_STALLED_JOBS, retried=False):
        await jobs.recover_stalled_jobs(services_of(context).settings.stalled_worker_seconds)


# Deliveries the database recorded when imports ended (by any path, operators' SQL included)
# get their jobs here, within 5 s.
@jobs.app.periodic(
    cron="* * * * * */5",
    periodic_id="queue-webhook-deliveries",
    queueing_lock=names.QUEUE_WEBHOOK_DELIVERIES,
)
@jobs.app.task(
    name=names.QUEUE_WEBHOOK_DELIVERIES,
    queue=names.WEBHOOKS_QUEUE,
    queueing_lock=names.QUEUE_WEBHOOK_DELIVERIES,
    pass_context=True,
    retry=retry,
)
async def queue_webhook_deliveries(context: JobContext, timestamp: int) -> None:
    with metrics.job_run(names.QUEUE_WEBHOOK_DELIVERIES, retried=False):
        await webhooks.queue_pending_deliveries(services_of(context))


@jobs.app.task(
    name=names.DELIVER_WEBHOOK,
    queue=names.WEBHOOKS_QUEUE,
    pass_context=True,
    retry=WebhookDeliveryRetry(),
)
async def deliver_webhook(context: JobContext, delivery_id: str) -> None:
    # The delivery decides when its next attempt is due and when to give up (its own age);
    # what reaches here besides that is the database around the attempt, or a bug.
    services = services_of(context)
    with metrics.job_run(names.DELIVER_WEBHOOK, retried=True) as run:
        try:
            await webhooks.deliver(services, delivery_id)
        except WebhookAttemptFailed:
            raise
        except Exception as exc:
            if is_bug(exc):
                log.exception("webhook.bug delivery_id=%s", delivery_id)
                await webhooks.fail_delivery(services, delivery_id, bug_report(exc))
                run.failed()
                raise
            log.info("webhook.retry delivery_id=%s error=%s", delivery_id, exc)
            raise


__all__ = [
    "builtin_tasks",
    "delete_removed_images",
    "deliver_webhook",
    "list_folder_page",
    "make_derivatives",
    "queue_requested_derivatives",
    "queue_requeued_files",
    "queue_webhook_deliveries",
    "start_due_sync_runs",
    "start_import",
    "transfer_batch",
]
