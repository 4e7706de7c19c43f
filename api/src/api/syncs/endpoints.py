"""HTTP routes for syncs."""

from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from api.constraints import Cursor, PageLimit
from api.error_responses import error_responses
from api.syncs import service
from api.syncs.schemas import SyncChange, SyncPage, SyncRequest, SyncRunAccepted, SyncView
from domain.db import Connection

# Every change: the token, the body cap and the rate limit apply.
_WORK = (401, 413, 429)
# What a route that reads a JSON body adds to them.
_BODY = 415


class SyncController(Controller):
    tags = ["syncs"]

    @post(
        "/syncs", status_code=HTTP_201_CREATED, responses=error_responses(*_WORK, _BODY, 409, 422)
    )
    async def create_sync(
        self, data: JSONBody[SyncRequest], conn: NamedDependency[Connection], state: State
    ) -> SyncView:
        """Import a shared folder now and again on a schedule; each run is an ordinary import
        that moves only new and changed files and marks the images whose file is gone."""
        return await service.create_sync(
            conn,
            state.job_app,
            state.sources,
            data,
            min_interval_seconds=state.settings.sync_min_interval_seconds,
            notify_networks=state.notify_networks,
        )

    @get("/syncs", responses=error_responses(401, 422))
    async def list_syncs(
        self, conn: NamedDependency[Connection], limit: PageLimit = 50, cursor: Cursor = None
    ) -> SyncPage:
        """Syncs, newest first; follow `next_cursor` for the next page."""
        return await service.list_syncs(conn, limit=limit, cursor=cursor)

    @get("/syncs/{sync_id:str}", responses=error_responses(401, 404))
    async def get_sync(self, sync_id: FromPath[str], conn: NamedDependency[Connection]) -> SyncView:
        """A sync's schedule, its last run's status and counts, and its next run."""
        return await service.get_sync(conn, sync_id)

    @patch("/syncs/{sync_id:str}", responses=error_responses(*_WORK, _BODY, 404, 422))
    async def change_sync(
        self,
        sync_id: FromPath[str],
        data: JSONBody[SyncChange],
        conn: NamedDependency[Connection],
        state: State,
    ) -> SyncView:
        """Pause or resume a sync, or change its interval, `on_removed` or `notify_url`."""
        return await service.change_sync(
            conn,
            sync_id,
            data,
            min_interval_seconds=state.settings.sync_min_interval_seconds,
            notify_networks=state.notify_networks,
        )

    @delete(
        "/syncs/{sync_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        responses=error_responses(*_WORK, 404),
    )
    async def delete_sync(self, sync_id: FromPath[str], conn: NamedDependency[Connection]) -> None:
        """Stop syncing the folder: no more runs. A run in progress ends as an ordinary import;
        every image stays."""
        await service.delete_sync(conn, sync_id)

    @post(
        "/syncs/{sync_id:str}/run",
        status_code=HTTP_202_ACCEPTED,
        responses=error_responses(*_WORK, 404, 409),
    )
    async def run_sync_now(
        self, sync_id: FromPath[str], conn: NamedDependency[Connection], state: State
    ) -> SyncRunAccepted:
        """Start a run now, whatever the schedule; the next one is due an interval later."""
        return await service.run_now(conn, state.job_app, sync_id)
