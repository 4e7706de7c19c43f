"""What the operators' routes do: read the queues, jobs, workers, periodic tasks and imports
(domain/ops/repository.py, over the views of migrations/schema/operations.sql), and change
jobs through Procrastinate's own JobManager (retry, cancel, abort), never by writing its
tables. Every change is logged as `ops.<what> ... by=<operator>`."""

import logging
from datetime import UTC, datetime
from typing import Any, Literal

import procrastinate
import psycopg
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Job

from api.errors import Conflict, InvalidInput, NotFound
from api.imports import service as imports
from api.imports.schemas import RetryAccepted
from api.ops.schemas import (
    FailingImport,
    FailureReason,
    ImportsOverview,
    JobAction,
    JobDepth,
    JobDetail,
    JobEvent,
    JobFailure,
    JobPage,
    JobSummary,
    PeriodicList,
    PeriodicRun,
    QueueOverview,
    SlowImport,
    StalledJob,
    StalledJobs,
    StalledRetried,
    TaskDepth,
    Worker,
    WorkerList,
)
from domain.db import Connection
from domain.ops import repository as ops
from domain.periodic_schedules import PERIODIC_SCHEDULES

log = logging.getLogger("api.ops")

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


async def get_job(
    conn: Connection, job_app: procrastinate.App, job_id: int, stalled_after: float
) -> JobDetail:
    """One job as Procrastinate's JobManager has it, with its events and its recorded
    failures."""
    job = await _job(job_app, job_id)
    events = [JobEvent(type=e["type"], at=e["at"]) for e in await ops.job_events(conn, job_id)]
    failures = [JobFailure(**row) for row in await ops.job_failures(conn, job_id)]
    stalled = job.status == "doing" and await _is_stalled(job_app, job_id, stalled_after)
    args = dict(job.task_kwargs)
    return JobDetail(
        job_id=job_id,
        queue=job.queue,
        task=job.task_name,
        status=job.status,  # type: ignore[arg-type]
        attempts=job.attempts,
        scheduled_at=job.scheduled_at,
        worker_id=job.worker_id,
        abort_requested=bool(job.abort_requested),
        import_id=_import_of(args),
        args=args,
        priority=job.priority,
        events=events,
        failures=failures,
        can_retry=job.status == "failed" or stalled,
        can_cancel=job.status == "todo" or (job.status == "doing" and not job.abort_requested),
    )


async def retry_job(
    job_app: procrastinate.App, job_id: int, stalled_after: float, operator: str
) -> JobAction:
    """A failed job, or a running one whose worker stopped sending heartbeats, back in its
    queue to run now (Procrastinate's retry: one attempt more)."""
    job = await _job(job_app, job_id)
    if job.status == "doing" and not await _is_stalled(job_app, job_id, stalled_after):
        raise Conflict(
            f"job {job_id} is running on a worker that is alive: cancel it to stop it, or "
            "wait for it to end"
        )
    if job.status not in ("failed", "doing"):
        raise Conflict(f"job {job_id} is {job.status}: only a failed or stalled job is retried")
    try:
        await job_app.job_manager.retry_job_by_id_async(job_id, retry_at=datetime.now(UTC))
    except ConnectorException as exc:
        if not isinstance(exc.__cause__, psycopg.errors.RaiseException):
            raise
        raise Conflict(
            f"job {job_id} changed meanwhile: it is no longer failed or stalled"
        ) from None
    log.warning(
        "ops.job_retried job_id=%s task=%s was=%s import_id=%s by=%s",
        job_id,
        job.task_name,
        job.status,
        _import_of(job.task_kwargs),
        operator,
    )
    return JobAction(job_id=job_id, action="retried", status="todo")


async def cancel_job(job_app: procrastinate.App, job_id: int, operator: str) -> JobAction:
    """A queued job is cancelled (it will not run); a running one is asked to abort."""
    job = await _job(job_app, job_id)
    if job.status not in ("todo", "doing"):
        raise Conflict(f"job {job_id} is {job.status}: only a queued or running job is cancelled")
    running = job.status == "doing"
    if running and job.abort_requested:
        return JobAction(job_id=job_id, action="abort_requested", status="doing")
    done = await job_app.job_manager.cancel_job_by_id_async(job_id, abort=running)
    if not done:
        raise Conflict(f"job {job_id} changed meanwhile: it is no longer queued or running")
    action: Literal["abort_requested", "cancelled"] = "abort_requested" if running else "cancelled"
    log.warning(
        "ops.job_%s job_id=%s task=%s import_id=%s by=%s",
        action,
        job_id,
        job.task_name,
        _import_of(job.task_kwargs),
        operator,
    )
    return JobAction(job_id=job_id, action=action, status="doing" if running else "cancelled")


async def stalled_jobs(
    conn: Connection, job_app: procrastinate.App, stalled_after: float
) -> StalledJobs:
    """Running jobs whose worker stopped sending heartbeats (Procrastinate's own test)."""
    jobs = list(await job_app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after))
    running = await ops.running_jobs(conn, [job.id for job in jobs if job.id is not None])
    items = []
    for job in sorted(jobs, key=lambda j: j.id or 0):
        assert job.id is not None
        seen = running.get(job.id, {})
        items.append(
            StalledJob(
                job_id=job.id,
                queue=job.queue,
                task=job.task_name,
                attempts=job.attempts,
                import_id=_import_of(job.task_kwargs),
                worker_id=job.worker_id,
                seconds_since_heartbeat=seen.get("seconds_since_heartbeat"),
                started_at=seen.get("started_at"),
            )
        )
    return StalledJobs(stalled_after_seconds=stalled_after, items=items)


async def retry_stalled_jobs(
    job_app: procrastinate.App, stalled_after: float, operator: str
) -> StalledRetried:
    """Every stalled job back in its queue, as the workers' own recovery does."""
    manager = job_app.job_manager
    retried = []
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
        assert job.id is not None
        try:
            await manager.retry_job(job)
        except ConnectorException as exc:
            if not isinstance(exc.__cause__, psycopg.errors.RaiseException):
                raise
            continue  # a worker's recovery got to it first
        retried.append(job.id)
        log.warning(
            "ops.job_retried job_id=%s task=%s was=stalled import_id=%s by=%s",
            job.id,
            job.task_name,
            _import_of(job.task_kwargs),
            operator,
        )
    return StalledRetried(job_ids=sorted(retried))


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


async def requeue_import_failures(
    conn: Connection, job_app: procrastinate.App, import_id: str, operator: str
) -> RetryAccepted:
    """POST /imports/{id}/retry, logged with the operator who asked."""
    accepted = await imports.retry_failed_files(conn, job_app, import_id)
    log.warning(
        "ops.import_failures_requeued import_id=%s requeued=%s by=%s",
        accepted.import_id,
        accepted.requeued,
        operator,
    )
    return accepted


async def _job(job_app: procrastinate.App, job_id: int) -> Job:
    found = list(await job_app.job_manager.list_jobs_async(id=job_id))
    if not found:
        raise NotFound(f"no job with id {job_id} (a job that succeeded is deleted)")
    return found[0]


async def _is_stalled(job_app: procrastinate.App, job_id: int, stalled_after: float) -> bool:
    stalled = await job_app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
    return any(job.id == job_id for job in stalled)


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


def _import_of(args: dict[str, Any]) -> str | None:
    value = args.get("import_id")
    return value if isinstance(value, str) else None


def _seconds_since(now: datetime, at: datetime | None) -> float | None:
    return None if at is None else round(max(0.0, (now - at).total_seconds()), 1)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
