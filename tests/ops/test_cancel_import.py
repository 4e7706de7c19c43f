"""Cancelling imports with psql: a running import stops, its queued jobs are cancelled, what it
imported stays and nothing more is recorded; the worker stops on any status but `running`."""

import asyncio
import time
from collections.abc import Callable
from typing import Any

from litestar.testing import AsyncTestClient
from psycopg.types.json import Jsonb

from tests.api.factories import insert_import, insert_import_file
from tests.conftest import Stack
from tests.helpers import jobs_succeeded, start_import
from tests.ops.psql import ops, run_ops_file

# A slow, steady pace keeps the 600-file import running long enough to cancel it midway, and
# small batches leave some of them queued behind the running ones.
WORKER_ENV = {
    "SOURCE_REQUESTS_PER_SECOND": "40",
    "SOURCE_BURST": "1",
    "TRANSFER_BATCH_FILES": "10",
}

Db = Any


async def wait_until(stack: Stack, check: Callable[[Db], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with stack.db() as db:
            if check(db):
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check.__doc__}")
        await asyncio.sleep(0.1)


def import_state(db: Db, import_id: str) -> dict[str, Any]:
    """Everything an import recorded: its row, its files by state, its images and folders."""
    row = db.execute(
        "SELECT status, discovered, imported, unchanged, skipped, failed, bytes_imported,"
        " folders_pending, finished_at FROM imports WHERE id = %s",
        (import_id,),
    ).fetchone()
    columns = ("status", "discovered", "imported", "unchanged", "skipped", "failed")
    columns += ("bytes_imported", "folders_pending", "finished_at")
    files = dict(
        db.execute(
            "SELECT state, count(*) FROM import_files WHERE import_id = %s GROUP BY state",
            (import_id,),
        ).fetchall()
    )
    (images,) = db.execute(
        "SELECT count(*) FROM images WHERE import_id = %s", (import_id,)
    ).fetchone()
    folders = db.execute(
        "SELECT folder_id, pages_listed, done FROM import_folders WHERE import_id = %s"
        " ORDER BY folder_id",
        (import_id,),
    ).fetchall()
    return {
        **dict(zip(columns, row, strict=True)),
        "files": files,
        "images": images,
        "folders": folders,
    }


def job_statuses(db: Db, import_id: str) -> dict[str, int]:
    rows = db.execute(
        "SELECT status::text, count(*) FROM procrastinate_jobs WHERE args->>'import_id' = %s"
        " GROUP BY 1",
        (import_id,),
    ).fetchall()
    return dict(rows)


def defer(db: Db, queue: str, task: str, args: dict[str, Any]) -> int:
    ((job_id,),) = db.execute(
        "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(%s, %s, 0, NULL, NULL, %s, NULL)"
        "::procrastinate_job_to_defer_v1])",
        (queue, task, Jsonb(args)),
    ).fetchone()
    return int(job_id)


async def test_the_worker_does_nothing_for_jobs_of_a_cancelled_import(stack: Stack) -> None:
    """Jobs of an import that is not running return at once: no call to Drive, no record.
    (First in this module, so that no other import's job calls Drive meanwhile.)"""
    fixture = stack.drive.fixture
    folder_id = fixture.folder_id("to cancel")
    file_id = fixture.id_of("to cancel/x_0001.jpg")
    with stack.db() as db:
        import_id = insert_import(db, status="running", folder_id=folder_id, discovered=1)
        insert_import_file(db, import_id, source_file_id=file_id, name="x_0001.jpg")
        db.execute(
            "INSERT INTO import_folders (import_id, folder_id) VALUES (%s, %s)",
            (import_id, folder_id),
        )
        (cancelled,) = db.execute("SELECT cancel_import(%s)", (import_id,)).fetchone()
        assert cancelled == 0  # it had no queued job
        before = import_state(db, import_id)
        stats = stack.drive.stats
        media_before = stats.media_requests_by_file[file_id]
        lists_before = stats.requests["list"]
        job_ids = [
            defer(
                db,
                "transfers",
                "import.transfer_batch",
                {"import_id": import_id, "file_ids": [file_id]},
            ),
            defer(
                db,
                "listing",
                "import.list_folder_page",
                {"import_id": import_id, "folder_id": folder_id},
            ),
        ]

    def both_done(db: Db) -> bool:
        """both jobs have succeeded"""
        return jobs_succeeded(db, job_ids)

    await wait_until(stack, both_done, timeout=30)
    assert stats.media_requests_by_file[file_id] == media_before
    assert stats.requests["list"] == lists_before
    with stack.db() as db:
        assert import_state(db, import_id) == before
    assert before["files"] == {"pending": 1}
    assert before["folders"] == [(folder_id, 0, False)]


async def test_cancelling_a_running_import_stops_it_and_freezes_what_it_imported(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    import_id = await start_import(api, fixture.link("to cancel"))

    def some_imported(db: Db) -> bool:
        """the import has imported 20 files"""
        return import_state(db, import_id)["imported"] >= 20

    await wait_until(stack, some_imported)
    (row,) = ops(stack.database_url, "cancel_import.sql", import_id=import_id)

    cancelled_jobs = int(row["cancelled_jobs"])
    with stack.db() as db:
        frozen = import_state(db, import_id)
        jobs = job_statuses(db, import_id)
    assert frozen["status"] == "cancelled"
    assert frozen["finished_at"] is not None
    assert 20 <= frozen["imported"] < 600
    assert frozen["files"].get("pending", 0) > 0
    # SQL leaves Procrastinate's jobs to Procrastinate: the answer counts the import's queued
    # jobs, which end without doing anything (below) instead of being cancelled.
    assert cancelled_jobs > 0
    assert jobs.get("todo", 0) + jobs.get("doing", 0) >= 1

    def nothing_left(db: Db) -> bool:
        """the import's running jobs (and their retries) have finished"""
        statuses = job_statuses(db, import_id)
        return "doing" not in statuses and "todo" not in statuses

    await wait_until(stack, nothing_left)
    with stack.db() as db:
        after = import_state(db, import_id)
        (api_view,) = [
            r for r in ops(stack.database_url, "import_progress.sql") if r["import_id"] == import_id
        ]
    # Jobs that were running when it was cancelled recorded nothing: the counts, the files'
    # states, the catalogue and the listing are as they were at the cancellation.
    assert after == frozen
    assert frozen["images"] == frozen["imported"] == frozen["files"]["imported"]
    assert api_view["status"] == "cancelled"
    assert int(api_view["pending"]) == frozen["files"]["pending"]
    response = await api.get(f"/imports/{import_id}")
    assert response.json()["status"] == "cancelled"
    assert response.json()["counts"]["imported"] == frozen["imported"]

    # Cancelling it again changes nothing.
    (again,) = ops(stack.database_url, "cancel_import.sql", import_id=import_id)
    assert int(again["cancelled_jobs"]) == 0
    with stack.db() as db:
        assert import_state(db, import_id) == frozen

    # The folder is free again: a new import of it starts (and is cancelled in turn).
    second = await start_import(api, fixture.link("to cancel"))
    assert second != import_id
    ops(stack.database_url, "cancel_import.sql", import_id=second)
    with stack.db() as db:
        assert import_state(db, second)["status"] == "cancelled"


async def test_a_cancelled_import_s_queued_start_job_ends_without_starting_it(
    stack: Stack,
) -> None:
    with stack.db() as db:
        import_id = insert_import(db, status="queued")
        # Scheduled for later, so the worker leaves it queued until the cancellation.
        ((job_id,),) = db.execute(
            "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW('listing', 'import.start', 0, NULL,"
            " NULL, %s, now() + interval '1 hour')::procrastinate_job_to_defer_v1])",
            (Jsonb({"import_id": import_id}),),
        ).fetchone()

    (row,) = ops(stack.database_url, "cancel_import.sql", import_id=import_id)

    assert int(row["cancelled_jobs"]) == 1
    with stack.db() as db:
        assert db.execute(
            "SELECT status, finished_at IS NOT NULL FROM imports WHERE id = %s", (import_id,)
        ).fetchone() == ("cancelled", True)
        db.execute("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE id = %s", (job_id,))

    def start_job_done(db: Db) -> bool:
        """the start job has run (and, succeeding, been deleted)"""
        return (
            db.execute("SELECT 1 FROM procrastinate_jobs WHERE id = %s", (job_id,)).fetchone()
            is None
        )

    await wait_until(stack, start_job_done)
    with stack.db() as db:
        assert db.execute(
            "SELECT status, started_at FROM imports WHERE id = %s", (import_id,)
        ).fetchone() == ("cancelled", None)


def test_a_finished_import_is_left_alone(stack: Stack) -> None:
    with stack.db() as db:
        import_id = insert_import(db, status="completed", finished_at="2026-01-01T00:00:00Z")
        before = import_state(db, import_id)

    (row,) = ops(stack.database_url, "cancel_import.sql", import_id=import_id)

    assert int(row["cancelled_jobs"]) == 0
    with stack.db() as db:
        assert import_state(db, import_id) == before


def test_cancelling_an_unknown_import_says_so(stack: Stack) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    run = run_ops_file(stack.database_url, "cancel_import.sql", import_id=unknown)
    assert run.returncode != 0
    assert f"no import with id {unknown}" in run.stderr
