"""Every job the worker runs, registered on the Procrastinate app by importing each lifecycle's
`tasks.py` (imports, derivatives, syncs, webhooks), and the one job of its own: putting back the
jobs of a worker that died. Task names and queues are in `domain.task_names`."""

from procrastinate import builtin_tasks

from domain import task_names as names
from worker import jobs
from worker.derivatives import tasks as derivative_tasks
from worker.imports import tasks as import_tasks
from worker.periodic import periodic_task
from worker.syncs import tasks as sync_tasks
from worker.webhooks import tasks as webhook_tasks

# Jobs of a worker that died (no heartbeat) go back to the queue. Recovery goes ahead of every
# listing page and transfer batch, whatever the backlog; it is not retried (the next tick is
# seconds away).
recover_stalled_jobs = periodic_task(
    names.RECOVER_STALLED_JOBS, "recover-stalled-jobs", 10,
    lambda services: jobs.recover_stalled_jobs(services.settings.stalled_worker_seconds),
    retry=None, priority=jobs.RECOVERY_PRIORITY,
)  # fmt: skip


__all__ = [
    "builtin_tasks",
    "derivative_tasks",
    "import_tasks",
    "recover_stalled_jobs",
    "sync_tasks",
    "webhook_tasks",
]
