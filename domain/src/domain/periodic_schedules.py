"""The periodic tasks' schedules, declared once as data: the worker registers each with
Procrastinate's periodic deferrer (worker/periodic.py) and the API computes each one's next run
from it (GET /ops/periodic), so the two never disagree on when a task runs.

A schedule is "every N seconds" as Procrastinate's cron reads `* * * * * */N` (croniter takes
seconds from a sixth field): the ticks are the seconds 0, N, 2N, ... of every minute, the
deferrer defers the task for each tick, and a task runs at most once per tick whatever the
number of workers (its periodic id)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain import task_names as names

SECONDS_PER_MINUTE = 60


@dataclass(frozen=True)
class PeriodicSchedule:
    """A task deferred at every tick of `every_seconds` (a divisor of 60 or not: the ticks
    restart at each minute's second 0, as cron's step does)."""

    task_name: str
    periodic_id: str
    every_seconds: int

    def __post_init__(self) -> None:
        if not 0 < self.every_seconds < SECONDS_PER_MINUTE:
            raise ValueError(f"{self.task_name}: every_seconds must be 1 to 59")

    @property
    def cron(self) -> str:
        """The cron expression Procrastinate's periodic deferrer is given."""
        return f"* * * * * */{self.every_seconds}"

    def next_run_after(self, at: datetime) -> datetime:
        """The first tick strictly after `at` (an aware datetime)."""
        minute = at.replace(second=0, microsecond=0)
        elapsed = (at - minute).total_seconds()
        tick = (int(elapsed) // self.every_seconds + 1) * self.every_seconds
        if tick >= SECONDS_PER_MINUTE:
            return minute + timedelta(minutes=1)
        return minute + timedelta(seconds=tick)


# Imports waiting for their turn are started within 2 s of a slot freeing.
QUEUE_IMPORTS_IN_TURN = PeriodicSchedule(names.QUEUE_IMPORTS_IN_TURN, "queue-imports-in-turn", 2)
# Files a retry put back to pending get their transfer jobs within 10 s when an operator's SQL
# did it (the API defers the task at once).
QUEUE_REQUEUED_FILES = PeriodicSchedule(names.QUEUE_REQUEUED_FILES, "queue-requeued-files", 10)
RECOVER_STALLED_JOBS = PeriodicSchedule(names.RECOVER_STALLED_JOBS, "recover-stalled-jobs", 10)
QUEUE_REQUESTED_DERIVATIVES = PeriodicSchedule(
    names.QUEUE_REQUESTED_DERIVATIVES, "queue-requested-derivatives", 10
)
START_DUE_SYNC_RUNS = PeriodicSchedule(names.START_DUE_SYNC_RUNS, "start-due-sync-runs", 5)
# Images their sync found gone and says to delete: objects, then rows, within 10 s.
DELETE_REMOVED_IMAGES = PeriodicSchedule(names.DELETE_REMOVED_IMAGES, "delete-removed-images", 10)
QUEUE_WEBHOOK_DELIVERIES = PeriodicSchedule(
    names.QUEUE_WEBHOOK_DELIVERIES, "queue-webhook-deliveries", 5
)
# The job counters' changes folded into their totals (migrations/schema/operations.sql), so
# that reading them stays a few dozen rows.
FOLD_JOB_COUNTS = PeriodicSchedule(names.FOLD_JOB_COUNTS, "fold-job-counts", 5)
# Images stored before albums get theirs (worker/albums/backfill.py): each run lists for up to
# 10 s, the next goes on; with nothing left, a run is one query.
BACKFILL_ALBUMS = PeriodicSchedule(names.BACKFILL_ALBUMS, "backfill-albums", 15)

PERIODIC_SCHEDULES = (
    QUEUE_IMPORTS_IN_TURN,
    QUEUE_REQUEUED_FILES,
    RECOVER_STALLED_JOBS,
    QUEUE_REQUESTED_DERIVATIVES,
    START_DUE_SYNC_RUNS,
    DELETE_REMOVED_IMAGES,
    QUEUE_WEBHOOK_DELIVERIES,
    FOLD_JOB_COUNTS,
    BACKFILL_ALBUMS,
)
