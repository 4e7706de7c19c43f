"""HTTP routes for imports."""

import procrastinate
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED

from api.db import Connection
from api.imports import service
from api.imports.schemas import ImportAccepted, ImportRequest, ImportView


class ImportController(Controller):
    tags = ["imports"]

    @post("/import/google-drive", status_code=HTTP_202_ACCEPTED)
    async def import_google_drive(
        self, data: JSONBody[ImportRequest], conn: NamedDependency[Connection], state: State
    ) -> ImportAccepted:
        """Start importing every image in a public Google Drive folder."""
        job_app: procrastinate.App = state.job_app
        return await service.start_google_drive_import(conn, job_app, data)

    @get("/imports/{import_id:str}")
    async def get_import(
        self, import_id: FromPath[str], conn: NamedDependency[Connection]
    ) -> ImportView:
        """An import's status, counts and timings."""
        return await service.get_import(conn, import_id)
