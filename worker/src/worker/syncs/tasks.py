"""The syncs' jobs, both periodic: start the runs that are due, and delete the images a run found
removed where the sync says so."""

from domain import periodic_schedules as schedules
from worker import jobs
from worker.periodic import periodic_task
from worker.retry import TransientFailureRetry
from worker.syncs import runs

retry = TransientFailureRetry()


# Sync runs start within 5 s of being due; SQL's SKIP LOCKED starts each run once even if two
# of this job ran at the same time.
start_due_sync_runs = periodic_task(
    schedules.START_DUE_SYNC_RUNS, runs.start_due_runs,
    retry=retry, priority=jobs.LISTING_PRIORITY,
)  # fmt: skip
# Images their sync found gone and says to delete: objects, then rows, within 10 s.
delete_removed_images = periodic_task(
    schedules.DELETE_REMOVED_IMAGES, runs.delete_removed_images,
    retry=retry,
)  # fmt: skip
