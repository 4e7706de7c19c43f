"""HTTP routes of the operators' console: queues, jobs, stalled jobs, workers, periodic tasks
and imports, and the changes an operator makes to them. Every route needs OPS_TOKEN
(access.py); the web console (web/ops/) calls these and nothing else."""

from typing import Annotated, Any, Literal

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.status_codes import HTTP_200_OK

from api.constraints import MAX_FILTER_LENGTH, NO_NUL, Cursor, JobId, PageLimit
from api.db import provide_autocommit_connection, provide_connection
from api.error_responses import error_responses
from api.imports.schemas import RetryAccepted
from api.ops import jobs, service
from api.ops.access import operator_of, ops_token_guard
from api.ops.schemas import (
    ImportsOverview,
    JobAction,
    JobDetail,
    JobPage,
    PeriodicList,
    QueueOverview,
    StalledJobs,
    StalledRetried,
    WorkerList,
)
from api.settings import Settings
from domain.db import Connection

Filter = Annotated[
    str | None, QueryParameter(min_length=1, max_length=MAX_FILTER_LENGTH, pattern=NO_NUL)
]
StatusFilter = Annotated[
    Literal["todo", "doing", "succeeded", "failed", "cancelled", "aborted"] | None,
    QueryParameter(description="Only jobs in this status."),
]
# Every POST: the token, the body cap and the start limit apply.
_CHANGE = (401, 404, 409, 413, 429)
_READ = Provide(provide_autocommit_connection)


class OpsController(Controller):
    path = "/ops"
    tags = ["operators"]
    guards = [ops_token_guard]
    dependencies = {"conn": _READ}

    @get("/queues", responses=error_responses(401))
    async def queue_overview(self, conn: NamedDependency[Connection]) -> QueueOverview:
        """Jobs by queue and by task, per status, and how long the first ready job has waited."""
        return await service.queue_overview(conn)

    @get("/jobs", responses=error_responses(401))
    async def list_jobs(
        self,
        conn: NamedDependency[Connection],
        limit: PageLimit = 50,
        cursor: Cursor = None,
        queue: Filter = None,
        task: Filter = None,
        status: StatusFilter = None,
        import_id: Filter = None,
    ) -> JobPage:
        """Jobs matching every filter given, newest first; paginated."""
        return await service.list_jobs(
            conn,
            limit=limit,
            cursor=cursor,
            queue=queue,
            task=task,
            status=status,
            import_id=import_id,
        )

    @get("/jobs/{job_id:int}", responses=error_responses(401, 404))
    async def get_job(
        self, conn: NamedDependency[Connection], state: State, job_id: JobId
    ) -> JobDetail:
        """One job: its arguments, attempts, events, and whether it can be retried or
        cancelled now."""
        settings: Settings = state.settings
        return await jobs.get_job(conn, state.job_app, job_id, settings.stalled_worker_seconds)

    @post("/jobs/{job_id:int}/retry", status_code=HTTP_200_OK, responses=error_responses(*_CHANGE))
    async def retry_job(
        self, request: Request[Any, Any, Any], state: State, job_id: JobId
    ) -> JobAction:
        """Run a failed job, or a stalled one, again now."""
        settings: Settings = state.settings
        return await jobs.retry_job(
            state.job_app, job_id, settings.stalled_worker_seconds, operator_of(request)
        )

    @post("/jobs/{job_id:int}/cancel", status_code=HTTP_200_OK, responses=error_responses(*_CHANGE))
    async def cancel_job(
        self, request: Request[Any, Any, Any], state: State, job_id: JobId
    ) -> JobAction:
        """Cancel a queued job, or ask a running one to abort."""
        return await jobs.cancel_job(state.job_app, job_id, operator_of(request))

    @get("/stalled", responses=error_responses(401))
    async def stalled_jobs(self, conn: NamedDependency[Connection], state: State) -> StalledJobs:
        """Running jobs whose worker stopped sending heartbeats."""
        settings: Settings = state.settings
        return await jobs.stalled_jobs(conn, state.job_app, settings.stalled_worker_seconds)

    @post("/stalled/retry", status_code=HTTP_200_OK, responses=error_responses(401, 413, 429))
    async def retry_stalled_jobs(
        self, request: Request[Any, Any, Any], state: State
    ) -> StalledRetried:
        """Put every stalled job back in its queue."""
        settings: Settings = state.settings
        return await jobs.retry_stalled_jobs(
            state.job_app, settings.stalled_worker_seconds, operator_of(request)
        )

    @get("/workers", responses=error_responses(401))
    async def list_workers(self, conn: NamedDependency[Connection], state: State) -> WorkerList:
        """Registered workers: their last heartbeat, whether they are alive, their jobs."""
        settings: Settings = state.settings
        return await service.workers(conn, settings.stalled_worker_seconds)

    @get("/periodic", responses=error_responses(401))
    async def list_periodic_runs(self, conn: NamedDependency[Connection]) -> PeriodicList:
        """Each periodic task's last run and its next."""
        return await service.periodic_runs(conn)

    @get("/imports", responses=error_responses(401))
    async def imports_overview(self, conn: NamedDependency[Connection]) -> ImportsOverview:
        """The slowest live imports, the imports with the most failed files, and failures by
        reason over every import."""
        return await service.imports_overview(conn)

    @post(
        "/imports/{import_id:str}/requeue-failures",
        status_code=202,
        responses=error_responses(*_CHANGE),
        dependencies={"conn": Provide(provide_connection)},
    )
    async def requeue_import_failures(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[Connection],
        state: State,
        import_id: FromPath[str],
    ) -> RetryAccepted:
        """Queue every failed file of an import for another transfer (POST
        /imports/{id}/retry, on the operators' token)."""
        return await jobs.requeue_import_failures(
            conn, state.job_app, import_id, operator_of(request)
        )
