"""The import's jobs: start it, list a folder's pages, transfer a batch of files, and queue the
files a retry put back. Each is thin: the work, and what its job records of the failures it
does not retry (failure_ladder.py)."""

from procrastinate import JobContext

from domain import periodic_schedules as schedules
from domain import task_names as names
from worker import jobs
from worker.failure_ladder import Ladder, run_job
from worker.imports import batch_run, listing, transfers
from worker.periodic import periodic_task
from worker.retry import TransientFailureRetry
from worker.services import Services, services_of

retry = TransientFailureRetry()


def import_fails(services: Services, import_id: str, step: str, giving_up: str) -> Ladder:
    """A step of an import that fails ends the import, saying which step and why."""
    return Ladder(
        about=f"import_id={import_id} step={step}",
        bug_event="import.bug",
        record_bug=lambda report: listing.fail_import(services, import_id, f"{step}: {report}"),
        give_up=lambda exc: listing.fail_import(services, import_id, f"{giving_up}: {exc}"),
    )


@jobs.app.task(name=names.START_IMPORT, queue=names.LISTING_QUEUE, pass_context=True, retry=retry)
async def start_import(context: JobContext, import_id: str) -> None:
    services = services_of(context)
    step = f"import.start {import_id}"
    ladder = import_fails(services, import_id, step, "could not start")
    await run_job(context, listing.start_import(services, import_id), ladder)


@jobs.app.task(
    name=names.LIST_FOLDER_PAGE, queue=names.LISTING_QUEUE, pass_context=True, retry=retry
)
async def list_folder_page(context: JobContext, import_id: str, folder_id: str) -> None:
    services = services_of(context)
    step = f"listing folder {folder_id}"
    ladder = import_fails(services, import_id, step, f"{step} failed")
    await run_job(context, listing.list_folder_pages(services, import_id, folder_id), ladder)


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


# Imports waiting their turn under MAX_ACTIVE_IMPORTS get their start job within 2 s of a slot
# freeing up, oldest first.
queue_imports_in_turn = periodic_task(
    schedules.QUEUE_IMPORTS_IN_TURN, listing.queue_imports_in_turn,
    retry=retry, priority=jobs.LISTING_PRIORITY,
)  # fmt: skip
# Files a retry put back to pending get their transfer
# jobs at once when the API asks (it defers this job), within 10 s when an operator's SQL did it.
queue_requeued_files = periodic_task(
    schedules.QUEUE_REQUEUED_FILES, transfers.queue_requeued_files,
    retry=retry, priority=jobs.LISTING_PRIORITY,
)  # fmt: skip
