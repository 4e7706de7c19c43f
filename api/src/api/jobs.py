"""Deferring worker jobs. The API knows the worker's tasks only by name: it shares Postgres
with the worker, never code."""

from collections.abc import Sequence
from typing import Any

import procrastinate
from procrastinate import PsycopgConnector

from api.db import Connection

START_IMPORT_TASK = "import.start"
TRANSFER_FILE_TASK = "import.transfer_file"
LISTING_QUEUE = "listing"
TRANSFER_QUEUE = "transfers"
# Jobs per INSERT when deferring many at once; all batches still share the caller's transaction.
DEFER_BATCH_SIZE = 1000


def create_job_app() -> procrastinate.App:
    """A Procrastinate app that only defers; it is opened on the API's own pool."""
    return procrastinate.App(connector=PsycopgConnector())


async def defer_start_import(job_app: procrastinate.App, conn: Connection, import_id: str) -> int:
    """Queue the job that starts an import, inside the caller's transaction: the import row
    and its job commit or roll back together."""
    deferrer: Any = job_app.configure_task(START_IMPORT_TASK, queue=LISTING_QUEUE, connection=conn)
    job_id: int = await deferrer.defer_async(import_id=import_id)
    return job_id


async def defer_transfers(
    job_app: procrastinate.App, conn: Connection, import_id: str, file_ids: Sequence[str]
) -> None:
    """Queue one transfer per file, inside the caller's transaction, so the files' return to
    `pending` and their jobs commit or roll back together."""
    deferrer: Any = job_app.configure_task(
        TRANSFER_FILE_TASK, queue=TRANSFER_QUEUE, connection=conn
    )
    for start in range(0, len(file_ids), DEFER_BATCH_SIZE):
        batch = file_ids[start : start + DEFER_BATCH_SIZE]
        await deferrer.batch_defer_async(
            *({"import_id": import_id, "file_id": file_id} for file_id in batch)
        )
