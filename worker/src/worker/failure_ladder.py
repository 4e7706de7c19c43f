"""The ladder every job's failures go down, written once (each lifecycle's tasks.py declares,
per task, only what to record):

1. a job cut short by its worker stopping is no failure: it runs again at once;
2. a bug (an exception that is no failure of the outside world: `retry.OUTSIDE_FAILURES`)
   fails the job at once, with its traceback in the log, and is recorded as a bug;
3. a failure the task's retry strategy will not retry (a permanent one, or the last
   attempt's) is recorded for good, and the job ends;
4. anything else is raised again, for the strategy to retry with its backoff.

Steps 3 and 4 ask the task's own retry strategy (`retry.TransientFailureRetry`,
`retry.WebhookDeliveryRetry`), so what is recorded as given up is exactly what Procrastinate
will not retry."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from procrastinate import JobContext

from worker import metrics
from worker.retry import INTERRUPTIONS, is_bug

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
    strategy = context.task.retry_strategy
    with metrics.job_run(job.task_name) as run:
        try:
            await work
        except INTERRUPTIONS:
            run.retried()
            raise
        except Exception as exc:
            if is_bug(exc):
                log.exception("%s %s", ladder.bug_event, ladder.about)
                await ladder.record_bug(bug_report(exc))
                run.failed()
                raise
            if strategy is None or strategy.get_retry_decision(exception=exc, job=job) is None:
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
