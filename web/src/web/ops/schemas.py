"""What the API's /ops routes answer, as the console reads it (api/ops/schemas.py)."""

from datetime import datetime
from typing import Any

import msgspec


class JobDepth(msgspec.Struct):
    name: str
    todo: int
    scheduled: int
    doing: int
    failed: int
    succeeded: int
    cancelled: int
    aborted: int
    oldest_waiting_seconds: float | None
    queue: str | None = None


class QueueOverview(msgspec.Struct):
    queues: list[JobDepth]
    tasks: list[JobDepth]


class JobSummary(msgspec.Struct):
    job_id: int
    queue: str
    task: str
    status: str
    attempts: int
    scheduled_at: datetime | None
    worker_id: int | None
    abort_requested: bool
    import_id: str | None


class JobPage(msgspec.Struct):
    items: list[JobSummary]
    next_cursor: str | None


class JobEvent(msgspec.Struct):
    type: str
    at: datetime | None


class JobFailure(msgspec.Struct):
    attempt: int
    outcome: str
    error_class: str
    message: str
    traceback: str
    failed_at: datetime


class JobDetail(JobSummary):
    args: dict[str, Any]
    priority: int
    events: list[JobEvent]
    failures: list[JobFailure]
    can_retry: bool
    can_cancel: bool


class JobAction(msgspec.Struct):
    job_id: int
    action: str
    status: str


class StalledJob(msgspec.Struct):
    job_id: int
    queue: str
    task: str
    attempts: int
    import_id: str | None
    worker_id: int | None
    seconds_since_heartbeat: float | None
    started_at: datetime | None


class StalledJobs(msgspec.Struct):
    stalled_after_seconds: float
    items: list[StalledJob]


class StalledRetried(msgspec.Struct):
    job_ids: list[int]


class Worker(msgspec.Struct):
    worker_id: int
    last_heartbeat: datetime
    seconds_since_heartbeat: float
    alive: bool
    jobs_running: int
    queues: list[str]
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
    every_seconds: int | None
    cron: str | None
    last_run_at: datetime | None
    last_job_id: int | None
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
    files_per_minute: float
    slowest: list[SlowImport]
    most_failed: list[FailingImport]
    failures_by_reason: list[FailureReason]


class RequeueAccepted(msgspec.Struct):
    import_id: str
    status: str
    requeued: int
