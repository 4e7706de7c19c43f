"""Every job the worker runs, registered on the Procrastinate app by importing each lifecycle's
`tasks.py` (imports, derivatives, syncs, webhooks, albums), and two jobs of its own: putting
back the jobs of a worker that died, and folding the job counters the operators' console
reads. Task names and queues are in `domain.task_names`, the periodic schedules in
`domain.periodic_schedules`."""

from procrastinate import builtin_tasks

from domain import periodic_schedules as schedules
from domain.ops.recording import fold_job_counts
from worker import jobs
from worker.albums import tasks as album_tasks
from worker.derivatives import tasks as derivative_tasks
from worker.imports import tasks as import_tasks
from worker.periodic import periodic_task
from worker.services import Services
from worker.syncs import tasks as sync_tasks
from worker.webhooks import tasks as webhook_tasks

# Jobs of a worker that died (no heartbeat) go back to the queue. Recovery goes ahead of every
# listing page and transfer batch, whatever the backlog; it is not retried (the next tick is
# seconds away).
recover_stalled_jobs = periodic_task(
    schedules.RECOVER_STALLED_JOBS,
    lambda services: jobs.recover_stalled_jobs(services.settings.stalled_worker_seconds),
    retry=None, priority=jobs.RECOVERY_PRIORITY,
)  # fmt: skip


async def fold_counted_job_changes(services: Services) -> int:
    """The job counters' changes folded into their totals (operations.sql: job_counts_fold)."""
    async with services.pool.connection() as conn, conn.transaction():
        return await fold_job_counts(conn)


# Bookkeeping of a few rows, ahead of the backlog like recovery, so that reading the counters
# stays cheap however long the queue; not retried (the next tick is seconds away).
fold_job_counts_task = periodic_task(
    schedules.FOLD_JOB_COUNTS, fold_counted_job_changes,
    retry=None, priority=jobs.RECOVERY_PRIORITY,
)  # fmt: skip


__all__ = [
    "album_tasks",
    "builtin_tasks",
    "derivative_tasks",
    "fold_job_counts_task",
    "import_tasks",
    "recover_stalled_jobs",
    "sync_tasks",
    "webhook_tasks",
]
