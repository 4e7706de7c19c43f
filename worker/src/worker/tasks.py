"""Job entry points. Each is thin: a pipeline call, and what its job records of the failures
it does not retry (failure_ladder.py takes every job's failures down the same ladder)."""

from procrastinate import JobContext, builtin_tasks

from domain import task_names as names
from worker import batch_run, derivatives, jobs, pipeline, syncs, transfers, webhooks
from worker.failure_ladder import Ladder, run_job
from worker.periodic import periodic_task
from worker.retry import TransientFailureRetry, WebhookAttemptFailed, WebhookDeliveryRetry
from worker.services import Services, services_of

retry = TransientFailureRetry()


def import_fails(services: Services, import_id: str, step: str, giving_up: str) -> Ladder:
    """A step of an import that fails ends the import, saying which step and why."""
    return Ladder(
        about=f"import_id={import_id} step={step}",
        bug_event="import.bug",
        record_bug=lambda report: pipeline.fail_import(services, import_id, f"{step}: {report}"),
        give_up=lambda exc: pipeline.fail_import(services, import_id, f"{giving_up}: {exc}"),
    )


@jobs.app.task(name=names.START_IMPORT, queue=names.LISTING_QUEUE, pass_context=True, retry=retry)
async def start_import(context: JobContext, import_id: str) -> None:
    services = services_of(context)
    step = f"import.start {import_id}"
    ladder = import_fails(services, import_id, step, "could not start")
    await run_job(context, pipeline.start_import(services, import_id), ladder)


@jobs.app.task(
    name=names.LIST_FOLDER_PAGE, queue=names.LISTING_QUEUE, pass_context=True, retry=retry
)
async def list_folder_page(context: JobContext, import_id: str, folder_id: str) -> None:
    services = services_of(context)
    step = f"listing folder {folder_id}"
    ladder = import_fails(services, import_id, step, f"{step} failed")
    await run_job(context, pipeline.list_folder_pages(services, import_id, folder_id), ladder)


@jobs.app.task(
    name=names.TRANSFER_BATCH, queue=names.TRANSFER_QUEUE, pass_context=True, retry=retry
)
async def transfer_batch(context: JobContext, import_id: str, file_ids: list[str]) -> None:
    # Each file's failures are handled inside the batch; what reaches here is a failure of the
    # batch as a whole (the database), retried as a job: the re-run moves what is still
    # pending. A bug fails the batch's files saying so, so the import ends and can be retried
    # once the bug is fixed.
    services = services_of(context)

    async def fail_files(reason: str) -> None:
        await batch_run.fail_pending_files(services, import_id, file_ids, reason)

    ladder = Ladder(
        about=f"import_id={import_id} files={len(file_ids)}",
        bug_event="import.batch_bug",
        record_bug=fail_files,
        give_up=lambda exc: fail_files(str(exc)),
        retry_event="import.batch_retry",
    )
    await run_job(context, batch_run.transfer_batch(services, import_id, file_ids), ladder)


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
    # Given up, its images still pending are released for the backfill.
    services = services_of(context)
    ladder = Ladder(
        about=f"import_id={import_id} images={len(image_ids)}",
        bug_event="derivatives.bug",
        record_bug=lambda _: derivatives.release(services, image_ids),
        give_up=lambda _: derivatives.release(services, image_ids),
        gave_up_event="derivatives.gave_up",
    )
    await run_job(context, derivatives.make_derivatives(services, import_id, image_ids), ladder)


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
    ladder = Ladder(
        about=f"delivery_id={delivery_id}",
        bug_event="webhook.bug",
        record_bug=lambda report: webhooks.fail_delivery(services, delivery_id, report),
        retry_event="webhook.retry",
        recorded=(WebhookAttemptFailed,),
    )
    await run_job(context, webhooks.deliver(services, delivery_id), ladder)


# The periodic jobs (see periodic.py). Files a retry put back to pending get their transfer
# jobs at once when the API asks (it defers this job), within 10 s when an operator's SQL did it.
queue_requeued_files = periodic_task(
    names.QUEUE_REQUEUED_FILES, "queue-requeued-files", 10, transfers.queue_requeued_files,
    retry=retry, priority=jobs.LISTING_PRIORITY,
)  # fmt: skip
# Images a backfill requested get their derivative jobs within 10 s.
queue_requested_derivatives = periodic_task(
    names.QUEUE_REQUESTED_DERIVATIVES, "queue-requested-derivatives", 10,
    derivatives.queue_requested, retry=retry,
)  # fmt: skip
# Sync runs start within 5 s of being due; SQL's SKIP LOCKED starts each run once even if two
# of this job ran at the same time.
start_due_sync_runs = periodic_task(
    names.START_DUE_SYNC_RUNS, "start-due-sync-runs", 5, syncs.start_due_runs,
    retry=retry, priority=jobs.LISTING_PRIORITY,
)  # fmt: skip
# Images their sync found gone and says to delete: objects, then rows, within 10 s.
delete_removed_images = periodic_task(
    names.DELETE_REMOVED_IMAGES, "delete-removed-images", 10, syncs.delete_removed_images,
    retry=retry,
)  # fmt: skip
# Jobs of a worker that died (no heartbeat) go back to the queue. Recovery goes ahead of every
# listing page and transfer batch, whatever the backlog; it is not retried (the next tick is
# seconds away).
recover_stalled_jobs = periodic_task(
    names.RECOVER_STALLED_JOBS, "recover-stalled-jobs", 10,
    lambda services: jobs.recover_stalled_jobs(services.settings.stalled_worker_seconds),
    retry=None, priority=jobs.RECOVERY_PRIORITY,
)  # fmt: skip
# Deliveries the database recorded when imports ended (by any path, operators' SQL included)
# get their jobs within 5 s.
queue_webhook_deliveries = periodic_task(
    names.QUEUE_WEBHOOK_DELIVERIES, "queue-webhook-deliveries", 5,
    webhooks.queue_pending_deliveries, retry=retry, queue=names.WEBHOOKS_QUEUE,
)  # fmt: skip


__all__ = [
    "builtin_tasks",
    "delete_removed_images",
    "deliver_webhook",
    "list_folder_page",
    "make_derivatives",
    "queue_requested_derivatives",
    "queue_requeued_files",
    "queue_webhook_deliveries",
    "recover_stalled_jobs",
    "start_due_sync_runs",
    "start_import",
    "transfer_batch",
]
