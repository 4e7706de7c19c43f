"""HTTP routes for imports."""

import uuid
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from api.constraints import Cursor, PageLimit
from api.db import provide_autocommit_connection
from api.error_responses import error_responses
from api.imports import service, starting
from api.imports.schemas import (
    CancelAccepted,
    FailedFilePage,
    ImportAccepted,
    ImportPage,
    ImportRequest,
    ImportStatus,
    ImportView,
    RetryAccepted,
)
from api.imports.starting import IDEMPOTENCY_KEY_PATTERN
from domain.db import Connection

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        description="Makes a retried POST return the import the first one created.",
        # Checked by starting.py, which says what is wrong in the API's own words.
        schema_extra={"minLength": 1, "maxLength": 255, "pattern": IDEMPOTENCY_KEY_PATTERN},
    ),
]
# Every POST: the token, the body cap and the start limit apply.
_WORK = (401, 413, 429)
# What a route that reads a JSON body adds to them.
_BODY = 415
_ALREADY_LIVE = {
    HTTP_200_OK: ResponseSpec(
        data_container=ImportAccepted,
        description="The folder already had a queued or running import: that one.",
    )
}


def _start_route(path: str, name: str, doc: str, source: str | None = None) -> HTTPRouteHandler:
    """A route that starts an import: `POST /imports`, which takes a link of any source, and
    its aliases, which take the links of one `source` only. One function serves them all; each
    route gets its own copy, named and documented as OpenAPI shows it."""

    async def start(
        self: Controller,
        data: JSONBody[ImportRequest],
        conn: NamedDependency[Connection],
        state: State,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ImportAccepted]:
        started = await starting.start_import(
            conn,
            state.job_app,
            state.sources,
            data,
            idempotency_key,
            source=source,
            notify_networks=state.notify_networks,
        )
        status_code = HTTP_200_OK if started.already_live else HTTP_202_ACCEPTED
        return Response(started.accepted, status_code=status_code)

    start.__name__ = start.__qualname__ = name
    start.__doc__ = doc
    return post(
        path,
        status_code=HTTP_202_ACCEPTED,
        responses=_ALREADY_LIVE | error_responses(*_WORK, _BODY, 409, 422),
    )(start)


class ImportController(Controller):
    tags = ["imports"]

    start_import = _start_route(
        "/imports",
        "start_import",
        "Start importing every image in a shared folder; its link says which source.",
    )
    import_google_drive = _start_route(
        "/import/google-drive",
        "import_google_drive",
        "Start importing every image in a public Google Drive folder (`POST /imports`,\n"
        "refusing links of other sources).",
        source="google_drive",
    )
    import_dropbox = _start_route(
        "/import/dropbox",
        "import_dropbox",
        "Start importing every image in a Dropbox shared folder (`POST /imports`, refusing\n"
        "links of other sources).",
        source="dropbox",
    )

    @get("/imports", responses=error_responses(401, 422))
    async def list_imports(
        self,
        conn: NamedDependency[Connection],
        limit: PageLimit = 50,
        cursor: Cursor = None,
        status: FromQuery[ImportStatus | None] = None,
        sync_id: Annotated[
            uuid.UUID | None, QueryParameter(description="Only the runs of this sync.")
        ] = None,
    ) -> ImportPage:
        """Imports, newest first; follow `next_cursor` for the next page."""
        return await service.list_imports(
            conn, limit=limit, cursor=cursor, status=status, sync_id=sync_id
        )

    @get("/imports/{import_id:str}", responses=error_responses(401, 404))
    async def get_import(
        self, import_id: FromPath[str], conn: NamedDependency[Connection]
    ) -> ImportView:
        """An import's status, counts, timings and rate."""
        return await service.get_import(conn, import_id)

    @get("/imports/{import_id:str}/failures", responses=error_responses(401, 404, 422))
    async def list_import_failures(
        self,
        import_id: FromPath[str],
        conn: NamedDependency[Connection],
        limit: PageLimit = 50,
        cursor: Cursor = None,
    ) -> FailedFilePage:
        """The files of an import that failed for good, with the reason; paginated."""
        return await service.list_failed_files(conn, import_id, limit=limit, cursor=cursor)

    @post(
        "/imports/{import_id:str}/retry",
        status_code=HTTP_202_ACCEPTED,
        responses=error_responses(*_WORK, 404, 409),
    )
    async def retry_import_failures(
        self, import_id: FromPath[str], conn: NamedDependency[Connection], state: State
    ) -> RetryAccepted:
        """Queue every failed file of an import for another transfer."""
        return await service.retry_failed_files(conn, state.job_app, import_id)

    @post(
        "/imports/{import_id:str}/cancel",
        status_code=HTTP_202_ACCEPTED,
        responses=error_responses(*_WORK, 404, 409),
        dependencies={"conn": Provide(provide_autocommit_connection)},
    )
    async def cancel_import(
        self, import_id: FromPath[str], conn: NamedDependency[Connection], state: State
    ) -> CancelAccepted:
        """Stop an import: queued work is cancelled, running work ends at its next step."""
        return await service.cancel_import(conn, state.job_app, import_id)
