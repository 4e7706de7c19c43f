"""Deferring worker jobs. The API knows the worker's tasks only by name: it shares Postgres
with the worker, never code."""

from typing import Any

import procrastinate
from procrastinate import PsycopgConnector

from api.db import Connection

START_IMPORT_TASK = "import.start"
LISTING_QUEUE = "listing"


def create_job_app() -> procrastinate.App:
    """A Procrastinate app that only defers; it is opened on the API's own pool."""
    return procrastinate.App(connector=PsycopgConnector())


async def defer_start_import(job_app: procrastinate.App, conn: Connection, import_id: str) -> int:
    """Queue the job that starts an import, inside the caller's transaction: the import row
    and its job commit or roll back together."""
    deferrer: Any = job_app.configure_task(START_IMPORT_TASK, queue=LISTING_QUEUE, connection=conn)
    job_id: int = await deferrer.defer_async(import_id=import_id)
    return job_id
