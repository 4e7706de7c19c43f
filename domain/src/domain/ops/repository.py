"""SQL of the operators' console over the views of migrations/schema/operations.sql and
imports.sql: what Procrastinate's JobManager has no bounded query for (counts by queue and
task from counters, a page of jobs, a job's events and failures, workers, periodic runs) and
the imports an operator looks at first. Reads only: the console's changes go through the
JobManager and the import state machine's functions; what the worker records is in
recording.py.

Functions run inside the caller's transaction and never commit.
"""

from typing import Any

from psycopg import sql

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
    query, params = list_jobs_query(
        limit=limit,
        before_id=before_id,
        queue=queue,
        task=task,
        status=status,
        import_id=import_id,
    )
    # Never prepared: a generic plan knows neither how many jobs a status holds nor where.
    cur = await conn.execute(query, params, prepare=False)
    return await cur.fetchall()


def list_jobs_query(
    *,
    limit: int,
    before_id: int | None = None,
    queue: str | None = None,
    task: str | None = None,
    status: str | None = None,
    import_id: str | None = None,
) -> tuple[sql.Composed, list[Any]]:
    """The statement list_jobs runs, with its parameters (the plan tests EXPLAIN it): only the
    filters given, each a condition an index serves.

    With a status, the page is read in the order of the index meant for its filters:
    procrastinate_jobs_status_id_idx (status, id), or with a queue, or else a task,
    procrastinate_jobs_status_queue_id_idx or procrastinate_jobs_status_task_id_idx
    (migrations/versions/0034). The index's column before the id is spelled as a range of one
    value, and the order is (that column, id). Written `column = x`, that column would be a
    constant to the planner and the order the id's alone, which the primary key and the
    shorter indexes give as well; taking the status's (or the queue's) jobs for spread evenly
    over the ids, the planner would walk one of those from the newest job down, past every
    newer job of the other statuses or queues (a queue's ready jobs behind 100,000 failed ones,
    a queue's failures of last week behind today's of another). Only the index meant gives
    this order; the status stays an equality before a queue's or a task's range, so that the
    planner counts that index's entries for the filters (it counts no column after a range).
    Without a status, the page is read down the primary key past other queues', tasks' or
    imports' jobs, or, for a few of them, from their own index and sorted."""
    # The index's column before the id, spelled as a range, and the filters that stay equalities.
    ranged: tuple[str, Any] | None = None
    equal = {
        "job_list.status": status,
        "job_list.queue_name": queue,
        "job_list.task_name": task,
        "job_list.import_id": import_id,
    }
    if status is not None:
        for column in ("job_list.queue_name", "job_list.task_name", "job_list.status"):
            if equal[column] is not None:
                ranged = (column, equal.pop(column))
                break
    conditions: list[sql.Composable] = []
    params: list[Any] = []
    for column, value in equal.items():
        if value is not None:
            conditions.append(sql.SQL(f"{column} = %s{_cast(column)}"))
            params.append(value)
    if ranged is not None:
        column, value = ranged
        cast = _cast(column)
        conditions.append(sql.SQL(f"{column} BETWEEN %s{cast} AND %s{cast}"))
        params.extend((value, value))
    if before_id is not None:
        conditions.append(sql.SQL("job_list.job_id < %s"))
        params.append(before_id)
    order = "job_list.job_id DESC"
    if ranged is not None:
        order = f"{ranged[0]} DESC, {order}"
    query = sql.SQL(
        """
        SELECT job_id, queue_name, task_name, status::text AS status, attempts, scheduled_at,
               worker_id, abort_requested, import_id
        FROM job_list
        WHERE {where}
        ORDER BY {order}
        LIMIT %s
        """
    ).format(
        where=sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("true"),
        order=sql.SQL(order),
    )
    return query, [*params, limit]


def _cast(column: str) -> str:
    # Procrastinate's enum, which its indexes hold (qualified, job_list.status is the enum; the
    # statement returns its text under the bare name).
    return "::procrastinate_job_status" if column == "job_list.status" else ""


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
