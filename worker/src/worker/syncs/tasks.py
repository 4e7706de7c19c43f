"""The syncs' jobs, both periodic: start the runs that are due, and delete the images a run found
removed where the sync says so."""

from domain import task_names as names
from worker import jobs
from worker.periodic import periodic_task
from worker.retry import TransientFailureRetry
from worker.syncs import runs

retry = TransientFailureRetry()


# Sync runs start within 5 s of being due; SQL's SKIP LOCKED starts each run once even if two
# of this job ran at the same time.
start_due_sync_runs = periodic_task(
    names.START_DUE_SYNC_RUNS, "start-due-sync-runs", 5, runs.start_due_runs,
    retry=retry, priority=jobs.LISTING_PRIORITY,
)  # fmt: skip
# Images their sync found gone and says to delete: objects, then rows, within 10 s.
delete_removed_images = periodic_task(
    names.DELETE_REMOVED_IMAGES, "delete-removed-images", 10, runs.delete_removed_images,
    retry=retry,
)  # fmt: skip
