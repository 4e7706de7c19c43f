"""The periodic jobs as the worker registers them: each deferred once per tick, at most one
waiting, retried by the one policy (recovery and the counters' fold excepted), on the
schedules domain/periodic_schedules.py declares (which the API reads for the next run)."""

from datetime import UTC, datetime

import pytest
from procrastinate import BaseRetryStrategy

from domain import task_names as names
from domain.periodic_schedules import PERIODIC_SCHEDULES, PeriodicSchedule
from worker import jobs, tasks
from worker.retry import TransientFailureRetry

EXPECTED = {
    # name: (periodic id, every, queue, priority, retried)
    names.QUEUE_REQUEUED_FILES: ("queue-requeued-files", "*/10", "listing", 10, True),
    names.QUEUE_REQUESTED_DERIVATIVES: ("queue-requested-derivatives", "*/10", "listing", 0, True),
    names.START_DUE_SYNC_RUNS: ("start-due-sync-runs", "*/5", "listing", 10, True),
    names.QUEUE_IMPORTS_IN_TURN: ("queue-imports-in-turn", "*/2", "listing", 10, True),
    names.DELETE_REMOVED_IMAGES: ("delete-removed-images", "*/10", "listing", 0, True),
    names.RECOVER_STALLED_JOBS: ("recover-stalled-jobs", "*/10", "listing", 100, False),
    names.QUEUE_WEBHOOK_DELIVERIES: ("queue-webhook-deliveries", "*/5", "webhooks", 0, True),
    names.FOLD_JOB_COUNTS: ("fold-job-counts", "*/5", "listing", 100, False),
    names.BACKFILL_ALBUMS: ("backfill-albums", "*/15", "listing", 0, True),
}


def test_each_periodic_job_is_deferred_once_per_tick_with_at_most_one_waiting() -> None:
    assert tasks.__all__  # the tasks are registered on import
    registered = {
        p.task.name: p
        for p in jobs.app.periodic_registry.periodic_tasks.values()
        if not p.task.name.startswith("procrastinate.")
    }
    assert set(registered) == set(EXPECTED)
    for name, (periodic_id, every, queue, priority, retried) in EXPECTED.items():
        periodic = registered[name]
        task = periodic.task
        assert periodic.periodic_id == periodic_id
        assert periodic.cron == f"* * * * * {every}"
        assert periodic.configure_kwargs.get("queueing_lock") == name
        assert task.queueing_lock == name
        assert (task.queue, task.priority) == (queue, priority)
        strategy: BaseRetryStrategy | None = task.retry_strategy
        assert isinstance(strategy, TransientFailureRetry) == retried
        assert (strategy is None) == (not retried)


def test_the_worker_registers_exactly_the_declared_schedules() -> None:
    registered = {
        (p.task.name, p.periodic_id, p.cron)
        for p in jobs.app.periodic_registry.periodic_tasks.values()
        if not p.task.name.startswith("procrastinate.")
    }
    declared = {(s.task_name, s.periodic_id, s.cron) for s in PERIODIC_SCHEDULES}
    assert registered == declared


@pytest.mark.parametrize(
    ("every", "at", "expected"),
    [
        (10, "10:00:00", "10:00:10"),  # on a tick: the next one
        (10, "10:00:04.5", "10:00:10"),
        (10, "10:00:59.9", "10:01:00"),
        (2, "10:00:03", "10:00:04"),
        (7, "10:00:55", "10:00:56"),
        (7, "10:00:56", "10:01:00"),  # the step restarts at every minute, as cron's does
        (5, "23:59:58", "00:00:00"),
    ],
)
def test_a_schedules_next_run_is_its_next_cron_tick(every: int, at: str, expected: str) -> None:
    schedule = PeriodicSchedule("t", "t", every)
    now = datetime.fromisoformat(f"2026-05-01T{at}+00:00")
    assert schedule.next_run_after(now).time().isoformat() == expected


def test_each_schedules_next_run_is_the_tick_procrastinates_deferrer_waits_for() -> None:
    periodic = {
        p.task.name: p
        for p in jobs.app.periodic_registry.periodic_tasks.values()
        if not p.task.name.startswith("procrastinate.")
    }
    start = datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC).timestamp()
    for schedule in PERIODIC_SCHEDULES:
        cron = periodic[schedule.task_name].croniter
        for offset in (0.0, 0.4, 1.0, 3.7, 9.99, 58.5, 59.999, 61.3):
            at = start + offset
            tick = cron.get_next(ret_type=float, start_time=at)
            assert schedule.next_run_after(datetime.fromtimestamp(at, UTC)).timestamp() == tick
