"""The query KEDA scales the worker on (deploy/kubernetes/worker-scaledobject.yaml), run against
the real schema while an import is running: one integer, the import's work running or ready to
run (each file of a transfer batch, each other job), and nothing that only waits for a later
time."""

import asyncio
import time
from pathlib import Path
from typing import Any

import psycopg
import yaml
from litestar.testing import AsyncTestClient

from tests.conftest import Stack
from tests.helpers import start_import

SCALED_OBJECT = Path(__file__).resolve().parents[2] / "deploy/kubernetes/worker-scaledobject.yaml"
# Slow enough, and in batches small enough, that some of the import's transfers are still
# queued when the query runs.
WORKER_ENV = {
    "SOURCE_REQUESTS_PER_SECOND": "40",
    "SOURCE_BURST": "1",
    "TRANSFER_BATCH_FILES": "10",
}
WORK = "CASE WHEN args ? 'file_ids' THEN jsonb_array_length(args->'file_ids') ELSE 1 END"


def keda_query() -> str:
    scaled_object = yaml.safe_load(SCALED_OBJECT.read_text())
    (trigger,) = scaled_object["spec"]["triggers"]
    query: str = trigger["metadata"]["query"]
    return query


async def test_the_keda_query_counts_the_jobs_waiting_for_a_worker(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    query = keda_query()
    import_id = await start_import(api, stack.drive.fixture.link("to cancel"))
    deadline = time.monotonic() + 60
    while True:
        with stack.db() as db:
            (discovered,) = db.execute(
                "SELECT discovered FROM imports WHERE id = %s", (import_id,)
            ).fetchone()
        if discovered == 600:
            break
        assert time.monotonic() < deadline, "the folder was not listed in time"
        await asyncio.sleep(0.1)

    with stack.db() as db:
        cursor = db.execute(
            f"SELECT ({query}) AS keda,"
            f" (SELECT sum({WORK}) FROM procrastinate_jobs WHERE args->>'import_id' = %s"
            "  AND status IN ('todo', 'doing')) AS import_work,"
            " (SELECT count(*) FROM procrastinate_jobs WHERE args->>'import_id' IS NULL"
            "  AND status IN ('todo', 'doing')) AS periodic_jobs",
            (import_id,),
        )
        keda, import_work, periodic_jobs = cursor.fetchone()
        # KEDA's scaler reads one integer from the first column of the first row.
        (single,) = db.execute(query).fetchall()
        assert len(single) == 1 and isinstance(single[0], int)
    assert keda == import_work + periodic_jobs
    assert import_work > 300  # most of the 600 files are still to move

    # In one snapshot, with jobs added and rolled back: a job ready on an import queue counts,
    # one waiting for a later time (a retry's backoff) or on another queue does not.
    with psycopg.connect(stack.database_url) as db:
        db.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        (before,) = db.execute(query).fetchone()
        defer(db, "transfers", scheduled_at="now() + interval '1 hour'")
        defer(db, "elsewhere")
        (unchanged,) = db.execute(query).fetchone()
        defer(db, "transfers")
        defer(db, "listing", task="import.list_folder_page", args='{"folder_id": "f"}')
        (more,) = db.execute(query).fetchone()
        db.rollback()
    assert (unchanged, more) == (before, before + 3 + 1)

    with stack.db() as db:
        (cancelled,) = db.execute("SELECT cancel_import(%s)", (import_id,)).fetchone()
    assert cancelled > 0


def defer(
    db: Any,
    queue: str,
    scheduled_at: str = "NULL",
    task: str = "import.transfer_batch",
    args: str = '{"file_ids": ["a", "b", "c"]}',
) -> None:
    """A job of `task` on `queue`; by default a transfer batch of three files."""
    db.execute(
        "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(%s, %s, 0, NULL, NULL,"
        f" %s::jsonb, {scheduled_at})::procrastinate_job_to_defer_v1])",
        (queue, task, args),
    )
