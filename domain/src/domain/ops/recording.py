"""What the worker records for operators beside Procrastinate's own tables
(migrations/versions/0031): each failed attempt of a job with its error, each Procrastinate
worker's queues and concurrency, and the job counters folded. The console reads them back
through repository.py.

Functions run inside the caller's transaction and never commit."""

from collections.abc import Sequence
from dataclasses import dataclass

from domain.db import Connection

# A failure's message and traceback are cut to these lengths: enough to tell one error from
# another, and a bounded row whatever an exception carries.
MESSAGE_CHARS = 1000
TRACEBACK_CHARS = 4000


@dataclass(frozen=True)
class JobFailure:
    job_id: int
    task_name: str
    # 1 for the job's first run (Procrastinate's `attempts` counts the runs before it).
    attempt: int
    # retried, gave_up or bug (the failure ladder's step).
    outcome: str
    error_class: str
    message: str
    traceback: str


async def record_job_failure(conn: Connection, failure: JobFailure) -> int:
    """Record a failed attempt; the job keeps its last few (job_failure_record)."""
    cur = await conn.execute(
        "SELECT job_failure_record(%s, %s, %s, %s, %s, %s, %s) AS id",
        (
            failure.job_id,
            failure.task_name,
            failure.attempt,
            failure.outcome,
            failure.error_class[:MESSAGE_CHARS],
            failure.message[:MESSAGE_CHARS],
            # The end of a traceback is where it failed.
            failure.traceback[-TRACEBACK_CHARS:],
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row["id"])


async def record_worker_process(
    conn: Connection,
    *,
    worker_id: int,
    name: str,
    host: str,
    pid: int,
    queues: Sequence[str],
    concurrency: int,
) -> bool:
    """Record what a Procrastinate worker was started with; False when its row is gone already
    (pruned as stalled, or unregistered), as nothing is left to describe."""
    cur = await conn.execute(
        """
        INSERT INTO worker_processes (worker_id, name, host, pid, queues, concurrency)
        SELECT w.id, %s, %s, %s, %s, %s FROM procrastinate_workers w WHERE w.id = %s
        ON CONFLICT (worker_id) DO NOTHING
        """,
        (name, host, pid, list(queues), concurrency, worker_id),
    )
    return cur.rowcount == 1


async def fold_job_counts(conn: Connection) -> int:
    """Fold the job counters' changes into their totals; how many changes were folded."""
    cur = await conn.execute("SELECT job_counts_fold() AS folded")
    row = await cur.fetchone()
    assert row is not None
    return int(row["folded"])
