"""The operators' console: queues, jobs, stalled jobs, workers, periodic tasks and imports, and
the retry and cancel buttons. Every page reads the API's /ops routes and every change is one
of them (the console adds no power of its own); the API logs each change with the operator.
Every page here is behind `access.operator_guard`; signing in is `sign_in.py`.

A change is asked for on a page of its own (GET) and made by its form (POST, with the CSRF
token), so it is confirmed without a script; the live parts refresh with htmx polls, and
without JavaScript the overview reloads itself.
"""

import asyncio
import json
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from web.api_client import ApiClient
from web.fragments import wants_fragment
from web.ops import access
from web.ops.schemas import (
    ImportsOverview,
    JobAction,
    JobDetail,
    JobPage,
    PeriodicList,
    QueueOverview,
    RequeueAccepted,
    StalledJobs,
    StalledRetried,
    WorkerList,
)

JOBS_PER_PAGE = 50
JOB_FILTERS = ("queue", "task", "status", "import_id")
JOB_STATUSES = ("todo", "doing", "failed", "cancelled", "aborted", "succeeded")
# What each change asks before it is made, and what it says once made.
ACTIONS = {
    "retry": ("Run job {id} again now?", "Retry job", "Job {id} is back in its queue."),
    "cancel": (
        "Cancel job {id}? A queued job will not run; a running one is asked to stop.",
        "Cancel job",
        "Job {id}: {action}.",
    ),
}


def operator_api(request: Request[Any, Any, Any], api: ApiClient) -> ApiClient:
    token: str = request.app.state.ops_token
    return api.for_operator(token, access.operator_of(request) or access.UNNAMED)


class OpsPages(Controller):
    path = "/ops"
    guards = [access.operator_guard]

    @get("/")
    async def overview(
        self, request: HTMXRequest, api: NamedDependency[ApiClient], retried: FromQuery[int] = -1
    ) -> Template:
        """Queues, stalled jobs, workers and periodic tasks; refreshes itself."""
        context = await _overview(operator_api(request, api))
        template = "ops/_live.html" if wants_fragment(request) else "ops/overview.html"
        return Template(template, context={**context, "retried": retried})

    @get("/jobs")
    async def list_jobs(
        self,
        request: HTMXRequest,
        api: NamedDependency[ApiClient],
        queue: FromQuery[str] = "",
        task: FromQuery[str] = "",
        status: FromQuery[str] = "",
        import_id: FromQuery[str] = "",
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        """Jobs by queue, task, status and import, newest first; the first page refreshes."""
        given = {"queue": queue, "task": task, "status": status, "import_id": import_id}
        filters = {name: value.strip() for name, value in given.items() if value.strip()}
        params = {**filters, "limit": str(JOBS_PER_PAGE), **({"cursor": cursor} if cursor else {})}
        page = await operator_api(request, api).operate("GET", "/ops/jobs", JobPage, params=params)
        query = urlencode(filters)
        context = {
            "jobs": page,
            "filters": filters,
            "statuses": JOB_STATUSES,
            "poll_url": None if cursor else f"/ops/jobs?{query}",
            "older_url": f"/ops/jobs?{urlencode({**filters, 'cursor': page.next_cursor or ''})}",
        }
        template = "ops/_jobs_table.html" if wants_fragment(request) else "ops/jobs.html"
        return Template(template, context=context)

    @get("/jobs/{job_id:int}")
    async def show_job(
        self,
        request: HTMXRequest,
        api: NamedDependency[ApiClient],
        job_id: FromPath[int],
        done: FromQuery[str] = "",
    ) -> Template:
        """A job's arguments, attempts and events, with its retry and cancel buttons."""
        job = await operator_api(request, api).operate("GET", f"/ops/jobs/{job_id}", JobDetail)
        context = {"job": job, "args": json.dumps(job.args, indent=2, sort_keys=True), "done": done}
        template = "ops/_job.html" if wants_fragment(request) else "ops/job.html"
        return Template(template, context=context)

    @get("/jobs/{job_id:int}/{action:str}")
    async def confirm_job_action(
        self,
        api: NamedDependency[ApiClient],
        request: HTMXRequest,
        job_id: FromPath[int],
        action: FromPath[str],
    ) -> Template:
        """Asks whether to retry or cancel the job, with the button that does it."""
        question, button, _ = _action(action)
        job = await operator_api(request, api).operate("GET", f"/ops/jobs/{job_id}", JobDetail)
        return Template(
            "ops/confirm.html",
            context={
                "question": question.format(id=job_id),
                "detail": f"{job.task} on queue {job.queue}, {job.status}, "
                f"{job.attempts} attempts before.",
                "button": button,
                "action_url": f"/ops/jobs/{job_id}/{action}",
                "back_url": f"/ops/jobs/{job_id}",
            },
        )

    @post("/jobs/{job_id:int}/{action:str}")
    async def do_job_action(
        self,
        api: NamedDependency[ApiClient],
        request: HTMXRequest,
        job_id: FromPath[int],
        action: FromPath[str],
    ) -> Redirect:
        """Retry or cancel the job (the API's POST /ops/jobs/{id}/retry or cancel)."""
        _action(action)
        done = await operator_api(request, api).operate(
            "POST", f"/ops/jobs/{job_id}/{action}", JobAction
        )
        return Redirect(
            f"/ops/jobs/{job_id}?{urlencode({'done': done.action})}",
            status_code=HTTP_303_SEE_OTHER,
        )

    @get("/stalled/retry")
    async def confirm_retry_stalled(
        self, api: NamedDependency[ApiClient], request: HTMXRequest
    ) -> Template:
        """Asks whether to put every stalled job back in its queue."""
        stalled = await operator_api(request, api).operate("GET", "/ops/stalled", StalledJobs)
        return Template(
            "ops/confirm.html",
            context={
                "question": f"Retry all {len(stalled.items)} stalled jobs?",
                "detail": "Their workers stopped sending heartbeats; each runs again from the "
                "start (every step is idempotent).",
                "button": "Retry all stalled",
                "action_url": "/ops/stalled/retry",
                "back_url": "/ops",
            },
        )

    @post("/stalled/retry")
    async def retry_stalled(
        self, api: NamedDependency[ApiClient], request: HTMXRequest
    ) -> Redirect:
        """Retry every stalled job (the API's POST /ops/stalled/retry)."""
        done = await operator_api(request, api).operate(
            "POST", "/ops/stalled/retry", StalledRetried
        )
        return Redirect(f"/ops?retried={len(done.job_ids)}", status_code=HTTP_303_SEE_OTHER)

    @get("/imports")
    async def imports(
        self, api: NamedDependency[ApiClient], request: HTMXRequest, requeued: FromQuery[int] = -1
    ) -> Template:
        """The slowest live imports, the most failed ones and failures by reason."""
        overview = await operator_api(request, api).operate("GET", "/ops/imports", ImportsOverview)
        return Template("ops/imports.html", context={"overview": overview, "requeued": requeued})

    @get("/imports/{import_id:str}/requeue-failures")
    async def confirm_requeue(self, import_id: FromPath[str]) -> Template:
        """Asks whether to queue an import's failed files again."""
        return Template(
            "ops/confirm.html",
            context={
                "question": "Queue this import's failed files for another transfer?",
                "detail": f"Import {import_id}: its failed files go back to pending, and the "
                "import runs again until they settle.",
                "button": "Requeue failures",
                "action_url": f"/ops/imports/{quote(import_id, safe='')}/requeue-failures",
                "back_url": "/ops/imports",
            },
        )

    @post("/imports/{import_id:str}/requeue-failures")
    async def requeue(
        self, api: NamedDependency[ApiClient], request: HTMXRequest, import_id: FromPath[str]
    ) -> Redirect:
        """Requeue the import's failed files (the API's POST
        /ops/imports/{id}/requeue-failures)."""
        done = await operator_api(request, api).operate(
            "POST", f"/ops/imports/{quote(import_id, safe='')}/requeue-failures", RequeueAccepted
        )
        return Redirect(f"/ops/imports?requeued={done.requeued}", status_code=HTTP_303_SEE_OTHER)


async def _overview(api: ApiClient) -> dict[str, Any]:
    queues, stalled, workers, periodic = await asyncio.gather(
        api.operate("GET", "/ops/queues", QueueOverview),
        api.operate("GET", "/ops/stalled", StalledJobs),
        api.operate("GET", "/ops/workers", WorkerList),
        api.operate("GET", "/ops/periodic", PeriodicList),
    )
    return {"queues": queues, "stalled": stalled, "workers": workers, "periodic": periodic}


def _action(action: str) -> tuple[str, str, str]:
    if action not in ACTIONS:
        raise NotFoundException()
    return ACTIONS[action]
