"""The ladder every job's failures go down, written once (each lifecycle's tasks.py declares,
per task, only what to record):

1. a job cut short by its worker stopping is no failure: it runs again at once; one an
   operator asked to abort (the console's cancel, POST /ops/jobs/{id}/cancel) ends `aborted`
   and is not retried;
2. a bug (an exception that is no failure of the outside world: `retry.OUTSIDE_FAILURES`)
   fails the job at once, with its traceback in the log, and is recorded as a bug;
3. a failure the task's retry strategy will not retry (a permanent one, or the last
   attempt's) is recorded for good, and the job ends;
4. anything else is raised again, for the strategy to retry with its backoff.

Steps 3 and 4 ask the task's own retry strategy (`retry.TransientFailureRetry`,
`retry.WebhookDeliveryRetry`), so what is recorded as given up is exactly what Procrastinate
will not retry.

At steps 2 to 4 the attempt's failure is also recorded with the job (`record_failure`: its
error class, message and the end of its traceback, in job_failures), since Procrastinate keeps
no error text: the operators' console shows a job's last errors from there. The periodic jobs
(periodic.py) record theirs the same way."""

import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from procrastinate import JobContext
from procrastinate.exceptions import JobAborted
from procrastinate.job_context import AbortReason

from domain.ops.recording import JobFailure, record_job_failure
from worker import metrics
from worker.retry import INTERRUPTIONS, is_bug
from worker.services import services_of

log = logging.getLogger("worker.tasks")


def bug_report(exc: BaseException) -> str:
    """What a bug's job records: it points at the worker's log, where its traceback is."""
    return f"internal error (a bug; see the worker's log): {exc!r}"


@dataclass(frozen=True)
class Ladder:
    """What one job records of the failures it does not retry, and what it logs of them."""

    # What the job works on, as the log lines' fields (`import_id=... files=3`).
    about: str
    # Logged with a bug's traceback; `record_bug` is given the bug's report to record.
    bug_event: str
    record_bug: Callable[[str], Awaitable[None]]
    # Records a failure its retry strategy gives up on. None: the strategy gives up on bugs
    # only.
    give_up: Callable[[Exception], Awaitable[None]] | None = None
    # Logged (a warning) once `give_up` has recorded the failure, and (info) before a retry.
    gave_up_event: str | None = None
    retry_event: str | None = None
    # Failures the work recorded and logged itself (a webhook's failed attempt): retried
    # without another word.
    recorded: tuple[type[Exception], ...] = ()


async def run_job(context: JobContext, work: Awaitable[None], ladder: Ladder) -> None:
    """Run a job's `work`, counted and timed, taking its failures down the ladder."""
    job = context.job
    with metrics.job_run(job.task_name) as run:
        try:
            await work
        except INTERRUPTIONS as exc:
            run.retried()
            raise_if_operator_aborted(context, exc)
            raise
        except Exception as exc:
            outcome = outcome_of(context, exc)
            await record_failure(context, exc, outcome)
            if outcome == BUG:
                log.exception("%s %s", ladder.bug_event, ladder.about)
                await ladder.record_bug(bug_report(exc))
                run.failed()
                raise
            if outcome == GAVE_UP:
                if ladder.give_up is None:
                    run.failed()
                    raise
                await ladder.give_up(exc)
                run.failed()
                if ladder.gave_up_event is not None:
                    log.warning("%s %s error=%s", ladder.gave_up_event, ladder.about, exc)
                return
            if ladder.retry_event is not None and not isinstance(exc, ladder.recorded):
                log.info("%s %s error=%s", ladder.retry_event, ladder.about, exc)
            run.retried()
            raise


def raise_if_operator_aborted(context: JobContext, interruption: BaseException) -> None:
    """Procrastinate aborts a running async job by cancelling its task, and consults the
    task's retry strategy for anything but its own JobAborted: ours would run the job again at
    once, as after a worker's shutdown (retry.was_interrupted). An operator's abort is turned
    into JobAborted here, so that the job ends `aborted`."""
    if context.abort_reason() == AbortReason.USER_REQUEST:
        job = context.job
        log.warning("ops.job_aborted job_id=%s task=%s", job.id, job.task_name)
        raise JobAborted(f"job {job.id} aborted at an operator's request") from interruption


# What became of a failed attempt (job_failures.outcome).
BUG = "bug"
GAVE_UP = "gave_up"
RETRIED = "retried"


def outcome_of(context: JobContext, exc: Exception) -> str:
    """The ladder's step for `exc`: a bug, a failure the task's retry strategy gives up on, or
    one it retries."""
    if is_bug(exc):
        return BUG
    strategy = context.task.retry_strategy
    if strategy is None or strategy.get_retry_decision(exception=exc, job=context.job) is None:
        return GAVE_UP
    return RETRIED


async def record_failure(context: JobContext, exc: Exception, outcome: str) -> None:
    """Record the attempt's failure with its job, on a connection of its own. A failure to
    record it is logged and goes no further: the job's own outcome matters more."""
    job = context.job
    if job.id is None:
        return
    leading = leading_exception(exc)
    failure = JobFailure(
        job_id=job.id,
        task_name=job.task_name,
        attempt=job.attempts + 1,
        outcome=outcome,
        error_class=f"{type(leading).__module__}.{type(leading).__qualname__}",
        message=str(leading) or repr(leading),
        traceback="".join(traceback.format_exception(exc)),
    )
    try:
        async with services_of(context).pool.connection() as conn, conn.transaction():
            await record_job_failure(conn, failure)
    except Exception as error:
        log.warning(
            "ops.job_failure_unrecorded job_id=%s task=%s error=%s", job.id, job.task_name, error
        )


def leading_exception(exc: BaseException) -> BaseException:
    """The exception that names a failure: a task group's first bug, or its first exception,
    rather than "unhandled errors in a TaskGroup" (the traceback keeps them all)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        inner = exc.exceptions
        exc = next((e for e in inner if is_bug(e)), inner[0])
    return exc
