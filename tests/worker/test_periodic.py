"""The periodic jobs as the worker registers them: each deferred once per tick, at most one
waiting, retried by the one policy (recovery excepted)."""

from procrastinate import BaseRetryStrategy

from domain import task_names as names
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
