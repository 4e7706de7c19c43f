"""The derivatives' jobs: make a group of images' thumbnails and facts, and queue those a backfill
requested."""

from procrastinate import JobContext

from domain import periodic_schedules as schedules
from domain import task_names as names
from worker import jobs
from worker.derivatives import making
from worker.failure_ladder import Ladder, run_job
from worker.periodic import periodic_task
from worker.retry import TransientFailureRetry
from worker.services import services_of

retry = TransientFailureRetry()


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
        bug_event="making.bug",
        record_bug=lambda _: making.release(services, image_ids),
        give_up=lambda _: making.release(services, image_ids),
        gave_up_event="making.gave_up",
    )
    await run_job(context, making.make_derivatives(services, import_id, image_ids), ladder)


# Images a backfill requested get their derivative jobs within 10 s.
queue_requested_derivatives = periodic_task(
    schedules.QUEUE_REQUESTED_DERIVATIVES, making.queue_requested, retry=retry,
)  # fmt: skip
