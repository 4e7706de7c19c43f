"""What the operators' overviews read: the queues, a page of jobs, the workers, the periodic
tasks and the imports, from domain/ops/repository.py over the views of
migrations/schema/operations.sql, never by counting jobs. A single job, and every change to
one, goes through Procrastinate's JobManager in `jobs.py`."""

from datetime import UTC, datetime
from typing import Any

from api.errors import InvalidInput
from api.ops.schemas import (
    FailingImport,
    FailureReason,
    ImportsOverview,
    JobDepth,
    JobPage,
    JobSummary,
    PeriodicList,
    PeriodicRun,
    QueueOverview,
    SlowImport,
    TaskDepth,
    Worker,
    WorkerList,
)
from domain.db import Connection
from domain.ops import repository as ops
from domain.periodic_schedules import PERIODIC_SCHEDULES

# The imports each list of GET /ops/imports shows.
IMPORTS_SHOWN = 10


async def queue_overview(conn: Connection) -> QueueOverview:
    """Every queue's and every task's jobs by status, from the job counters; a queue's oldest
    waiting job is the oldest of its tasks'."""
    now = datetime.now(UTC)
    tasks: list[TaskDepth] = []
    queues: dict[str, dict[str, Any]] = {}
    for row in await ops.job_counts(conn):
        waited = _seconds_since(now, row["waiting_since"])
        tasks.append(
            TaskDepth(name=row["task_name"], queue=row["queue_name"], **_depth(row, waited))
        )
        queue = queues.setdefault(row["queue_name"], {"oldest_waiting_seconds": None})
        for status in ("todo", "scheduled", *ops.JOB_STATUSES[1:]):
            queue[status] = queue.get(status, 0) + row[status]
        if waited is not None:
            queue["oldest_waiting_seconds"] = max(waited, queue["oldest_waiting_seconds"] or 0.0)
    return QueueOverview(
        queues=[JobDepth(name=name, **depth) for name, depth in queues.items()], tasks=tasks
    )


async def list_jobs(
    conn: Connection,
    *,
    limit: int,
    cursor: str | None,
    queue: str | None,
    task: str | None,
    status: str | None,
    import_id: str | None,
) -> JobPage:
    """A page of jobs matching the filters, newest first."""
    before = _parse_cursor(cursor)
    rows = await ops.list_jobs(
        conn,
        limit=limit + 1,
        before_id=before,
        queue=queue,
        task=task,
        status=status,
        import_id=import_id,
    )
    items = [_summary(row) for row in rows[:limit]]
    next_cursor = str(items[-1].job_id) if len(rows) > limit else None
    return JobPage(items=items, next_cursor=next_cursor)


async def workers(conn: Connection, stalled_after: float) -> WorkerList:
    return WorkerList(
        items=[
            Worker(
                worker_id=row["worker_id"],
                last_heartbeat=row["last_heartbeat"],
                seconds_since_heartbeat=round(row["seconds_since_heartbeat"], 1),
                alive=row["seconds_since_heartbeat"] < stalled_after,
                jobs_running=row["jobs_running"],
                queues=list(row["queues"]),
                name=row["name"],
                host=row["host"],
                pid=row["pid"],
                serves_queues=None if row["serves_queues"] is None else list(row["serves_queues"]),
                concurrency=row["concurrency"],
                started_at=row["started_at"],
            )
            for row in await ops.workers(conn)
        ]
    )


async def periodic_runs(conn: Connection) -> PeriodicList:
    """Every declared periodic task with its last run and its next tick, then any task run
    before but no longer declared."""
    now = datetime.now(UTC)
    last = {(row["task_name"], row["periodic_id"]): row for row in await ops.periodic_runs(conn)}
    items = []
    for schedule in PERIODIC_SCHEDULES:
        ran = last.pop((schedule.task_name, schedule.periodic_id), None) or {}
        items.append(
            PeriodicRun(
                task=schedule.task_name,
                periodic_id=schedule.periodic_id,
                every_seconds=schedule.every_seconds,
                cron=schedule.cron,
                last_run_at=ran.get("last_run_at"),
                last_job_id=ran.get("last_job_id"),
                next_run_at=schedule.next_run_after(now),
            )
        )
    for (task, periodic_id), ran in sorted(last.items()):
        items.append(
            PeriodicRun(
                task=task,
                periodic_id=periodic_id,
                every_seconds=None,
                cron=None,
                last_run_at=ran["last_run_at"],
                last_job_id=ran["last_job_id"],
                next_run_at=None,
            )
        )
    return PeriodicList(items=items)


async def imports_overview(conn: Connection) -> ImportsOverview:
    slowest = await ops.slowest_imports(conn, IMPORTS_SHOWN)
    return ImportsOverview(
        files_per_minute=float(
            sum(row["files_per_minute"] or 0 for row in slowest if row["status"] == "running")
        ),
        slowest=[
            SlowImport(
                import_id=str(row["import_id"]),
                source=row["source"],
                status=row["status"],
                discovered=row["discovered"],
                settled=row["settled"],
                failed=row["failed"],
                elapsed_seconds=row["elapsed_seconds"],
                files_per_minute=_float(row["files_per_minute"]),
                queue_position=row["queue_position"],
            )
            for row in slowest
        ],
        most_failed=[
            FailingImport(
                import_id=str(row["import_id"]),
                source=row["source"],
                status=row["status"],
                failed=row["failed"],
                main_reason=row["main_reason"],
            )
            for row in await ops.imports_with_failures(conn, IMPORTS_SHOWN)
        ],
        failures_by_reason=[
            FailureReason(**row) for row in await ops.failures_by_reason(conn, IMPORTS_SHOWN)
        ],
    )


def _summary(row: dict[str, Any]) -> JobSummary:
    return JobSummary(
        job_id=row["job_id"],
        queue=row["queue_name"],
        task=row["task_name"],
        status=row["status"],
        attempts=row["attempts"],
        scheduled_at=row["scheduled_at"],
        worker_id=row["worker_id"],
        abort_requested=row["abort_requested"],
        import_id=row["import_id"],
    )


def _depth(row: dict[str, Any], waited: float | None) -> dict[str, Any]:
    counts = {status: row[status] for status in ("todo", "scheduled", *ops.JOB_STATUSES[1:])}
    return {**counts, "oldest_waiting_seconds": waited}


def _parse_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 19:
        raise InvalidInput("cursor: pass back `next_cursor` unchanged", field="cursor")
    return int(cursor)


def _seconds_since(now: datetime, at: datetime | None) -> float | None:
    return None if at is None else round(max(0.0, (now - at).total_seconds()), 1)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
