"""Job entry points. Each is thin: it turns a job into a pipeline call and decides, per failure
class, between retrying (transient, attempts left) and recording the failure for good."""

import logging

from procrastinate import JobContext, builtin_tasks

from worker import derivatives, jobs, metrics, pipeline, transfers
from worker.retry import TransientFailureRetry, is_last_attempt
from worker.services import services_of
from worker.sources.base import PermanentSourceError

log = logging.getLogger("worker.tasks")
retry = TransientFailureRetry()


@jobs.app.task(name=jobs.START_IMPORT, queue=jobs.LISTING_QUEUE, pass_context=True, retry=retry)
async def start_import(context: JobContext, import_id: str) -> None:
    services = services_of(context)
    with metrics.job_run(jobs.START_IMPORT, retried=not is_last_attempt(context.job)) as run:
        try:
            await pipeline.start_import(services, import_id)
        except Exception as exc:
            if isinstance(exc, PermanentSourceError) or is_last_attempt(context.job):
                await pipeline.fail_import(services, import_id, f"could not start: {exc}")
                run.failed()
                return
            raise


@jobs.app.task(name=jobs.LIST_FOLDER_PAGE, queue=jobs.LISTING_QUEUE, pass_context=True, retry=retry)
async def list_folder_page(context: JobContext, import_id: str, folder_id: str) -> None:
    services = services_of(context)
    with metrics.job_run(jobs.LIST_FOLDER_PAGE, retried=not is_last_attempt(context.job)) as run:
        try:
            await pipeline.list_folder_pages(services, import_id, folder_id)
        except Exception as exc:
            if isinstance(exc, PermanentSourceError) or is_last_attempt(context.job):
                await pipeline.fail_import(
                    services, import_id, f"listing folder {folder_id} failed: {exc}"
                )
                run.failed()
                return
            raise


@jobs.app.task(name=jobs.TRANSFER_BATCH, queue=jobs.TRANSFER_QUEUE, pass_context=True, retry=retry)
async def transfer_batch(context: JobContext, import_id: str, file_ids: list[str]) -> None:
    # Each file's failures are handled inside the batch; what reaches here is a failure of the
    # batch as a whole (the database), retried as a job: the re-run moves what is still pending.
    services = services_of(context)
    with metrics.job_run(jobs.TRANSFER_BATCH, retried=not is_last_attempt(context.job)) as run:
        try:
            await transfers.transfer_batch(services, import_id, file_ids)
        except Exception as exc:
            if is_last_attempt(context.job):
                await transfers.fail_pending_files(services, import_id, file_ids, str(exc))
                run.failed()
                return
            log.info(
                "import.batch_retry import_id=%s files=%d error=%s", import_id, len(file_ids), exc
            )
            raise


@jobs.app.task(
    name=jobs.MAKE_DERIVATIVES,
    queue=jobs.DERIVATIVES_QUEUE,
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
    with metrics.job_run(jobs.MAKE_DERIVATIVES, retried=not is_last_attempt(context.job)) as run:
        try:
            await derivatives.make_derivatives(services, import_id, image_ids)
        except Exception as exc:
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


# croniter puts seconds in the sixth field: every 10 seconds. Recovery goes ahead of every
# listing page and transfer batch, whatever the backlog, and its queueing lock keeps at most one
# of it waiting: a busy spell never piles the periodic jobs up.
@jobs.app.periodic(
    cron="* * * * * */10",
    periodic_id="recover-stalled-jobs",
    priority=jobs.RECOVERY_PRIORITY,
    queueing_lock=jobs.RECOVER_STALLED_JOBS,
)
@jobs.app.task(
    name=jobs.RECOVER_STALLED_JOBS,
    queue=jobs.LISTING_QUEUE,
    priority=jobs.RECOVERY_PRIORITY,
    queueing_lock=jobs.RECOVER_STALLED_JOBS,
    pass_context=True,
)
async def recover_stalled_jobs(context: JobContext, timestamp: int) -> None:
    """Jobs of a worker that died (no heartbeat) go back to the queue."""
    with metrics.job_run(jobs.RECOVER_STALLED_JOBS, retried=False):
        await jobs.recover_stalled_jobs(services_of(context).settings.stalled_worker_seconds)


__all__ = [
    "builtin_tasks",
    "list_folder_page",
    "make_derivatives",
    "start_import",
    "transfer_batch",
]
