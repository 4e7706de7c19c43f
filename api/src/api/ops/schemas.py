"""Response shapes of the operators' routes (/ops)."""

from datetime import datetime
from typing import Any, Literal

import msgspec

JobStatus = Literal["todo", "doing", "succeeded", "failed", "cancelled", "aborted"]


class JobDepth(msgspec.Struct):
    """Jobs of one queue (or one task) by status: `todo` can run now, `scheduled` waits for
    its time (a retry's backoff); `oldest_waiting_seconds`, how long the first ready one has
    waited (null: none is ready)."""

    name: str
    todo: int
    scheduled: int
    doing: int
    failed: int
    succeeded: int
    cancelled: int
    aborted: int
    oldest_waiting_seconds: float | None


class TaskDepth(JobDepth):
    queue: str


class QueueOverview(msgspec.Struct):
    queues: list[JobDepth]
    tasks: list[TaskDepth]


class JobSummary(msgspec.Struct):
    job_id: int
    queue: str
    task: str
    status: JobStatus
    attempts: int
    scheduled_at: datetime | None
    worker_id: int | None
    abort_requested: bool
    # The import the job works for, when its arguments name one.
    import_id: str | None


class JobPage(msgspec.Struct):
    items: list[JobSummary]
    # Pass back as `cursor` for the next (older) page; null on the last page.
    next_cursor: str | None


class JobEvent(msgspec.Struct):
    # deferred, started, deferred_for_retry, failed, succeeded, cancelled, abort_requested,
    # aborted, scheduled, retried (Procrastinate's event types).
    type: str
    at: datetime | None


class JobFailure(msgspec.Struct):
    """A failed attempt, as the worker's failure ladder recorded it (Procrastinate keeps no
    error text)."""

    # 1 for the job's first run.
    attempt: int
    # `retried` (its retry strategy ran it again), `gave_up` (recorded and ended) or `bug`.
    outcome: Literal["retried", "gave_up", "bug"]
    # The exception's class, module included, and its message.
    error_class: str
    message: str
    # The end of its traceback (up to 4,000 characters).
    traceback: str
    failed_at: datetime


class JobDetail(JobSummary):
    args: dict[str, Any]
    priority: int
    events: list[JobEvent]
    # Its last failed attempts (the last five are kept), newest first: the first is its last
    # error. A job that succeeded is deleted with them.
    failures: list[JobFailure]
    # Whether retry and cancel would do something now (a running job is retried only once
    # its worker stopped sending heartbeats).
    can_retry: bool
    can_cancel: bool


class JobAction(msgspec.Struct):
    job_id: int
    # What was done: `retried` (back to todo), `cancelled` (a queued job will not run), or
    # `abort_requested` (a running job is asked to stop).
    action: Literal["retried", "cancelled", "abort_requested"]
    status: JobStatus


class StalledJob(msgspec.Struct):
    job_id: int
    queue: str
    task: str
    attempts: int
    import_id: str | None
    # The worker that took it (null when that worker unregistered), and how long ago it last
    # sent a heartbeat.
    worker_id: int | None
    seconds_since_heartbeat: float | None
    started_at: datetime | None


class StalledJobs(msgspec.Struct):
    # A running job is stalled once its worker has been silent this long (STALLED_WORKER_SECONDS).
    stalled_after_seconds: float
    items: list[StalledJob]


class StalledRetried(msgspec.Struct):
    job_ids: list[int]


class Worker(msgspec.Struct):
    worker_id: int
    last_heartbeat: datetime
    seconds_since_heartbeat: float
    # Heard from within STALLED_WORKER_SECONDS.
    alive: bool
    jobs_running: int
    # The queues of the jobs it is running now.
    queues: list[str]
    # What the worker was started with, as it recorded itself once registered (null until
    # then): its name within its process (imports, webhooks, derivatives), host and pid, the
    # queues it takes jobs from, how many jobs it runs at once, and when it started.
    name: str | None
    host: str | None
    pid: int | None
    serves_queues: list[str] | None
    concurrency: int | None
    started_at: datetime | None


class WorkerList(msgspec.Struct):
    items: list[Worker]


class PeriodicRun(msgspec.Struct):
    task: str
    periodic_id: str
    # Its schedule (domain/periodic_schedules.py): deferred at each tick of `every_seconds`
    # (`cron`, as Procrastinate reads it). Null for a task run before but no longer declared.
    every_seconds: int | None
    cron: str | None
    # The tick it was last deferred for (null: never yet), and the job deferred then.
    last_run_at: datetime | None
    last_job_id: int | None
    # Its next tick after now, from its schedule (null when no longer declared). A tick runs
    # when a worker is alive to defer it.
    next_run_at: datetime | None


class PeriodicList(msgspec.Struct):
    items: list[PeriodicRun]


class SlowImport(msgspec.Struct):
    import_id: str
    source: str
    status: str
    discovered: int
    settled: int
    failed: int
    elapsed_seconds: float | None
    files_per_minute: float | None
    # Its place in the waiting line (1 = next) while it is queued.
    queue_position: int | None


class FailingImport(msgspec.Struct):
    import_id: str
    source: str
    status: str
    failed: int
    main_reason: str | None


class FailureReason(msgspec.Struct):
    reason: str | None
    files: int
    imports: int
    last_failed_at: datetime | None


class ImportsOverview(msgspec.Struct):
    # Files settled per minute by the running imports together (each since it started).
    files_per_minute: float
    slowest: list[SlowImport]
    most_failed: list[FailingImport]
    failures_by_reason: list[FailureReason]
