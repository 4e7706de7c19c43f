"""The ladder every job's failures go down, run by the real Procrastinate worker (on its
in-memory connector): what is recorded, what fails at once, what runs again and when."""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
import pytest
from procrastinate import BaseRetryStrategy, JobContext
from procrastinate.testing import InMemoryConnector
from prometheus_client import REGISTRY

from worker.failure_ladder import Ladder, run_job
from worker.retry import (
    TransientFailureRetry,
    WebhookAttemptFailed,
    WebhookDeliveryRetry,
)
from worker.settings import get_settings
from worker.sources.base import PermanentSourceError, TransientSourceError

TASK = "test.ladder"
# What a run of the job raises, given its attempts so far (None: it succeeds).
Fault = Callable[[int], BaseException | None]


@dataclass
class Ladders:
    """An app with one task whose work raises `fault`, and what its ladder recorded."""

    app: procrastinate.App
    connector: InMemoryConnector
    runs: int = 0
    recorded: list[str] = field(default_factory=list)

    async def run(self, *, attempts_so_far: int = 0) -> dict[str, Any]:
        """Defer one job (as if it had run `attempts_so_far` times), run the worker until the
        queue has nothing to do now, and return the job's row."""
        async with self.app.open_async():
            job_id = await self.app.configure_task(TASK).defer_async()
            self.connector.jobs[job_id]["attempts"] = attempts_so_far
            await self.app.run_worker_async(wait=False, install_signal_handlers=False)
        return self.connector.jobs[job_id]


def ladders(fault: Fault, retry: BaseRetryStrategy | None = None) -> Ladders:
    connector = InMemoryConnector()
    state = Ladders(procrastinate.App(connector=connector), connector)

    async def work(attempts_so_far: int) -> None:
        state.runs += 1
        exception = fault(attempts_so_far)
        if exception is not None:
            raise exception

    async def record(what: str) -> None:
        state.recorded.append(what)

    @state.app.task(name=TASK, pass_context=True, retry=retry or TransientFailureRetry())
    async def job(context: JobContext) -> None:
        ladder = Ladder(
            about="thing_id=t1",
            bug_event="test.bug",
            record_bug=lambda report: record(f"bug: {report}"),
            give_up=lambda exc: record(f"gave up: {exc}"),
            gave_up_event="test.gave_up",
            retry_event="test.retry",
            recorded=(WebhookAttemptFailed,),
        )
        await run_job(context, work(context.job.attempts), ladder)

    return state


def jobs_counted(outcome: str) -> float:
    value = REGISTRY.get_sample_value("image_import_jobs_total", {"task": TASK, "outcome": outcome})
    return value or 0.0


async def test_a_bug_fails_its_job_at_once_with_its_traceback_and_is_recorded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = ladders(lambda _: KeyError("no such key"))
    failed_before = jobs_counted("failed")
    with caplog.at_level(logging.ERROR, logger="worker.tasks"):
        row = await state.run()
    assert (row["status"], row["attempts"], state.runs) == ("failed", 1, 1)
    assert state.recorded == [
        "bug: internal error (a bug; see the worker's log): KeyError('no such key')"
    ]
    [logged] = [r for r in caplog.records if r.getMessage() == "test.bug thing_id=t1"]
    assert logged.exc_info is not None and isinstance(logged.exc_info[1], KeyError)
    assert jobs_counted("failed") == failed_before + 1


async def test_a_bug_inside_a_group_of_outside_failures_is_still_a_bug() -> None:
    group = ExceptionGroup("batch", [OSError("disk"), ValueError("ours")])
    state = ladders(lambda _: group)
    row = await state.run()
    assert (row["status"], state.runs) == ("failed", 1)
    assert state.recorded[0].startswith("bug: internal error (a bug")


async def test_a_permanent_failure_is_recorded_and_never_retried() -> None:
    state = ladders(lambda _: PermanentSourceError("the file is gone"))
    failed_before = jobs_counted("failed")
    row = await state.run()
    # Recorded for good, the job itself ended: nothing is left to run again.
    assert (row["status"], state.runs) == ("succeeded", 1)
    assert state.recorded == ["gave up: the file is gone"]
    assert jobs_counted("failed") == failed_before + 1


async def test_the_last_attempt_gives_up_and_is_recorded() -> None:
    state = ladders(lambda _: TransientSourceError("the source is busy"))
    row = await state.run(attempts_so_far=get_settings().max_attempts - 1)
    assert (row["status"], state.runs) == ("succeeded", 1)
    assert state.recorded == ["gave up: the source is busy"]


async def test_a_transient_failure_is_retried_with_backoff_and_nothing_recorded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = ladders(lambda _: TransientSourceError("the source is busy"))
    retried_before = jobs_counted("retried")
    before = datetime.now(UTC)
    with caplog.at_level(logging.INFO, logger="worker.tasks"):
        row = await state.run()
    # Full jitter: anywhere from now to the first step of the backoff.
    first_step = timedelta(
        seconds=min(get_settings().retry_base_seconds, get_settings().retry_max_seconds)
    )
    assert (row["status"], row["attempts"], state.runs) == ("todo", 1, 1)
    assert before <= row["scheduled_at"] <= datetime.now(UTC) + first_step
    assert state.recorded == []
    assert "test.retry thing_id=t1 error=the source is busy" in caplog.messages
    assert jobs_counted("retried") == retried_before + 1


async def test_a_transient_failure_waits_at_least_its_retry_after() -> None:
    state = ladders(lambda _: TransientSourceError("slow down", retry_after=120))
    before = datetime.now(UTC)
    row = await state.run()
    assert row["status"] == "todo"
    assert row["scheduled_at"] >= before + timedelta(seconds=120)


async def test_a_job_cut_short_runs_again_at_once_whatever_its_attempts() -> None:
    last_attempt = get_settings().max_attempts - 1

    def cut_short_once(attempts_so_far: int) -> BaseException | None:
        return asyncio.CancelledError() if attempts_so_far == last_attempt else None

    state = ladders(cut_short_once)
    retried_before = jobs_counted("retried")
    row = await state.run(attempts_so_far=last_attempt)
    # Cut short on its last attempt, it is neither given up nor left `aborted`: it ran again
    # at once, and that run succeeded.
    assert (row["status"], state.runs) == ("succeeded", 2)
    assert state.recorded == []
    assert jobs_counted("retried") == retried_before + 1


async def test_a_failure_the_work_recorded_itself_is_retried_when_it_says_without_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    retry_at = datetime.now(UTC) + timedelta(minutes=10)
    state = ladders(lambda _: WebhookAttemptFailed("HTTP 503", retry_at), WebhookDeliveryRetry())
    with caplog.at_level(logging.INFO, logger="worker.tasks"):
        row = await state.run(attempts_so_far=40)
    assert (row["status"], row["scheduled_at"]) == ("todo", retry_at)
    assert state.recorded == []
    assert not [m for m in caplog.messages if m.startswith("test.retry")]
