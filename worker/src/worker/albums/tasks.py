"""The albums' job: the backfill of the images stored before albums existed, periodic, so that
a deployment that upgrades gets its old imports' albums without anyone asking (backfill.py)."""

from domain import periodic_schedules as schedules
from worker.albums import backfill
from worker.periodic import periodic_task
from worker.retry import TransientFailureRetry

# A source's passing failure (a rate limit, a 5xx) fails the run; the retry, or the next
# tick, goes on from the last page committed.
backfill_albums = periodic_task(
    schedules.BACKFILL_ALBUMS, backfill.backfill_albums,
    retry=TransientFailureRetry(),
)  # fmt: skip
