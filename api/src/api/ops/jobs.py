"""What the operators' routes do to jobs, one at a time through Procrastinate's own JobManager
(never by writing its tables): read a job and the stalled ones, retry, cancel or abort, retry
every stalled job, and requeue an import's failed files. Every change is logged as
`ops.<what> ... by=<operator>`. The console's overviews, read from our views, are `service.py`.
"""

import logging
from datetime import UTC, datetime
from typing import Any, Literal

import procrastinate
import psycopg
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Job

from api.errors import Conflict, NotFound
from api.imports import service as imports
from api.imports.schemas import RetryAccepted
from api.ops.schemas import (
    JobAction,
    JobDetail,
    JobEvent,
    JobFailure,
    StalledJob,
    StalledJobs,
    StalledRetried,
)
from domain.db import Connection
from domain.ops import repository as ops

log = logging.getLogger("api.ops")


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


def _import_of(args: dict[str, Any]) -> str | None:
    value = args.get("import_id")
    return value if isinstance(value, str) else None
