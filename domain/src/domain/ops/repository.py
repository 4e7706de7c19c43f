"""SQL of the operators' console over the views of migrations/schema/operations.sql and
imports.sql: what Procrastinate's JobManager has no bounded query for (counts by queue and
task from counters, a page of jobs, a job's events and failures, workers, periodic runs) and
the imports an operator looks at first. Reads only: the console's changes go through the
JobManager and the import state machine's functions; what the worker records is in
recording.py.

Functions run inside the caller's transaction and never commit.
"""

from typing import Any

from domain.db import Connection

JOB_STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborted")


async def job_counts(conn: Connection) -> list[dict[str, Any]]:
    """Jobs per queue and task by status, with when the first ready one started waiting."""
    cur = await conn.execute(
        """
        SELECT queue_name, task_name, todo, scheduled, doing, failed, succeeded, cancelled,
               aborted, waiting_since
        FROM job_counts ORDER BY queue_name, task_name
        """
    )
    return await cur.fetchall()


async def list_jobs(
    conn: Connection,
    *,
    limit: int,
    before_id: int | None = None,
    queue: str | None = None,
    task: str | None = None,
    status: str | None = None,
    import_id: str | None = None,
) -> list[dict[str, Any]]:
    """Up to `limit` jobs matching every filter given, newest (highest id) first, below
    `before_id` when paging on."""
    cur = await conn.execute(
        """
        SELECT job_id, queue_name, task_name, status::text AS status, attempts, scheduled_at,
               worker_id, abort_requested, import_id
        FROM job_list
        WHERE (%(before)s::bigint IS NULL OR job_id < %(before)s)
          AND (%(queue)s::text IS NULL OR queue_name = %(queue)s)
          AND (%(task)s::text IS NULL OR task_name = %(task)s)
          AND (%(status)s::procrastinate_job_status IS NULL
               OR status = %(status)s::procrastinate_job_status)
          AND (%(import_id)s::text IS NULL OR import_id = %(import_id)s)
        ORDER BY job_id DESC
        LIMIT %(limit)s
        """,
        {
            "before": before_id,
            "queue": queue,
            "task": task,
            "status": status,
            "import_id": import_id,
            "limit": limit,
        },
    )
    return await cur.fetchall()


async def job_events(conn: Connection, job_id: int) -> list[dict[str, Any]]:
    """A job's events, oldest first."""
    cur = await conn.execute(
        "SELECT type, at FROM job_timeline WHERE job_id = %s ORDER BY at, event_id", (job_id,)
    )
    return await cur.fetchall()


async def job_failures(conn: Connection, job_id: int) -> list[dict[str, Any]]:
    """A job's recorded failed attempts (the last few), newest first."""
    cur = await conn.execute(
        """
        SELECT attempt, outcome, error_class, message, traceback, failed_at
        FROM job_failures WHERE job_id = %s ORDER BY id DESC
        """,
        (job_id,),
    )
    return await cur.fetchall()


async def workers(conn: Connection) -> list[dict[str, Any]]:
    """Registered workers, most recently heard from first, with what each was started with."""
    cur = await conn.execute(
        """
        SELECT worker_id, last_heartbeat, extract(epoch FROM now() - last_heartbeat)::float8
               AS seconds_since_heartbeat, jobs_running, queues, name, host, pid,
               serves_queues, concurrency, started_at
        FROM queue_workers ORDER BY last_heartbeat DESC, worker_id
        """
    )
    return await cur.fetchall()


async def running_jobs(conn: Connection, job_ids: list[int]) -> dict[int, dict[str, Any]]:
    """When each of `job_ids` started running and its worker last sent a heartbeat."""
    cur = await conn.execute(
        """
        SELECT job_id, started_at, extract(epoch FROM since_worker_heartbeat)::float8
               AS seconds_since_heartbeat
        FROM running_jobs WHERE job_id = ANY(%s)
        """,
        (job_ids,),
    )
    return {row["job_id"]: row for row in await cur.fetchall()}


async def periodic_runs(conn: Connection) -> list[dict[str, Any]]:
    """Each periodic task's last run (its next comes from domain/periodic_schedules.py)."""
    cur = await conn.execute(
        """
        SELECT task_name, periodic_id, last_run_at, last_job_id
        FROM periodic_runs ORDER BY task_name, periodic_id
        """
    )
    return await cur.fetchall()


async def slowest_imports(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """The live imports (queued or running) that move the fewest files a minute, the longest
    waiting first among those that moved none."""
    cur = await conn.execute(
        """
        SELECT import_id, source, status, discovered, settled, failed, pending, percent_done,
               extract(epoch FROM elapsed)::float8 AS elapsed_seconds, files_per_minute,
               queue_position, created_at
        FROM import_progress
        WHERE status IN ('queued', 'running')
        ORDER BY files_per_minute ASC NULLS FIRST, created_at
        LIMIT %s
        """,
        (limit,),
    )
    return await cur.fetchall()


async def imports_with_failures(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """The imports with the most failed files, with their main reason."""
    cur = await conn.execute(
        """
        SELECT p.import_id, p.source, p.status, p.failed, r.reason AS main_reason
        FROM import_progress p
        LEFT JOIN LATERAL (
            SELECT reason FROM import_failures_by_reason f
            WHERE f.import_id = p.import_id ORDER BY files DESC, reason LIMIT 1
        ) r ON true
        WHERE p.failed > 0
        ORDER BY p.failed DESC, p.created_at DESC
        LIMIT %s
        """,
        (limit,),
    )
    return await cur.fetchall()


async def failures_by_reason(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """Failed files over every import by reason, the most frequent first."""
    cur = await conn.execute(
        """
        SELECT reason, files, imports, last_failed_at FROM failures_by_reason
        ORDER BY files DESC, reason LIMIT %s
        """,
        (limit,),
    )
    return await cur.fetchall()
