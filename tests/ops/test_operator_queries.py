"""The operators' files in migrations/ops/, run with psql after a real import: their numbers are
the import's, and re-queueing its failed files completes it again with exact counts."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from psycopg.types.json import Jsonb

from emulators.google_drive.faults import FaultRule
from tests.api.factories import insert_import, insert_import_file
from tests.conftest import Stack
from tests.helpers import eventually, start_import, wait_for_import
from tests.job_log import install_job_log, transfer_batches, transfer_jobs
from tests.ops.psql import ops, run_ops_file, seconds

ABUSIVE = (
    "HTTP 403 cannotDownloadAbusiveFile: This file has been identified as malware or spam and"
    " cannot be downloaded."
)
QUOTA = "HTTP 403 downloadQuotaExceeded: The download quota for this file has been exceeded."
QUOTA_FILES = ("op_03.jpg", "op_07.jpg", "op_11.jpg")
# Files over their download quota fail at once here (they would wait hours for it otherwise).
WORKER_ENV = {"SOURCE_QUOTA_GIVE_UP_SECONDS": "0"}


@pytest.fixture(scope="module", autouse=True)
def log_jobs(stack: Stack) -> None:
    with stack.db() as db:
        install_job_log(db)


@pytest.fixture(scope="module")
async def failed_import(api: AsyncTestClient[Any], stack: Stack) -> dict[str, Any]:
    """The `operated` folder imported while Drive refuses three of its images (download quota):
    of 23 files, 17 imported, 1 skipped, 5 failed (those three and two abusive files)."""
    fixture = stack.drive.fixture
    quota_ids = frozenset(fixture.id_of(f"operated/{name}") for name in QUOTA_FILES)
    stack.drive.set_faults(
        FaultRule("download_quota_exceeded", routes=frozenset({"media"}), file_ids=quota_ids)
    )
    try:
        import_id = await start_import(api, fixture.link("operated"))
        result = await wait_for_import(api, import_id)
    finally:
        stack.drive.set_faults()
    assert result["status"] == "completed_with_errors", result
    assert result["counts"] == {
        "discovered": 23,
        "imported": 17,
        "unchanged": 0,
        "skipped": 1,
        "failed": 5,
        "removed": 0,
        "settled": 23,
        "waiting_for_quota": 0,
    }
    return result


def test_import_progress_gives_the_imports_counts_and_throughput(
    stack: Stack, failed_import: dict[str, Any]
) -> None:
    import_id = failed_import["import_id"]
    (row,) = ops(stack.database_url, "import_progress.sql", import_id=import_id)

    counts = failed_import["counts"]
    assert row["import_id"] == import_id
    assert row["status"] == "completed_with_errors"
    assert {key: int(row[key]) for key in counts} == counts
    assert int(row["pending"]) == 0
    assert float(row["percent_done"]) == 100.0
    assert int(row["bytes_imported"]) == failed_import["bytes_imported"]
    with stack.db() as db:
        started, finished = db.execute(
            "SELECT started_at, finished_at FROM imports WHERE id = %s", (import_id,)
        ).fetchone() or (None, None)
    minutes = (finished - started).total_seconds() / 60
    assert float(row["files_per_minute"]) == pytest.approx(23 / minutes, rel=0.01, abs=0.1)
    assert int(row["bytes_per_minute"]) == pytest.approx(
        failed_import["bytes_imported"] / minutes, rel=0.01
    )
    assert row["throughput"].endswith("/min")

    latest = ops(stack.database_url, "import_progress.sql")
    assert import_id in [r["import_id"] for r in latest]
    assert ops(stack.database_url, "import_progress.sql", limit=0) == []


def test_failures_are_grouped_by_reason_per_import_and_overall(
    stack: Stack, failed_import: dict[str, Any]
) -> None:
    import_id = failed_import["import_id"]
    rows = ops(stack.database_url, "import_failures.sql", import_id=import_id)

    assert [(r["reason"], int(r["files"])) for r in rows] == [(QUOTA, 3), (ABUSIVE, 2)]
    by_reason = {r["reason"]: r for r in rows}
    assert by_reason[QUOTA]["examples"] == ", ".join(QUOTA_FILES)
    assert by_reason[ABUSIVE]["examples"] == "flagged_1.jpg, flagged_2.jpg"
    # A permanent error is recorded on its first try.
    assert {int(r["max_attempts"]) for r in rows} == {1}

    # A second import with the same reason, made up in the ledger, shows in the overall view.
    with stack.db() as db:
        other = insert_import(db, status="completed_with_errors", failed=1)
        db.execute(
            "INSERT INTO import_files (import_id, source_file_id, name, mime_type, state, reason)"
            " VALUES (%s, %s, 'x.jpg', 'image/jpeg', 'failed', %s)",
            (other, f"1Other{other}", ABUSIVE),
        )
    overall = ops(stack.database_url, "failures_by_reason.sql")
    assert [(r["reason"], int(r["files"]), int(r["imports"])) for r in overall] == [
        (ABUSIVE, 3, 2),
        (QUOTA, 3, 1),
    ]


def test_an_import_needs_its_id_for_its_failures(stack: Stack) -> None:
    run = run_ops_file(stack.database_url, "import_failures.sql")
    assert run.returncode != 0
    assert "-v import_id=<uuid>" in run.stderr


def test_queue_health_counts_the_imports_jobs_and_the_oldest_wait(
    stack: Stack, failed_import: dict[str, Any]
) -> None:
    queues = {r["queue_name"]: r for r in ops(stack.database_url, "queue_health.sql")}

    # Every transfer batch succeeded (permanent failures are recorded by the batch, which then
    # succeeds), and the worker deletes a job once it succeeds: nothing is left on `transfers`.
    assert "transfers" not in queues
    assert all(int(queue["failed"]) == 0 for queue in queues.values())

    with stack.db() as db, probe_jobs(db, failed_import["import_id"]) as probe_ids:
        running_job, waiting_job = probe_ids
        queues = {r["queue_name"]: r for r in ops(stack.database_url, "queue_health.sql")}
        probe = queues["ops_probe"]
        assert (int(probe["todo"]), int(probe["doing"])) == (1, 1)
        assert 600 <= seconds(probe["oldest_waiting"]) < 700

        stalled = ops(stack.database_url, "stalled_jobs.sql")
        assert [int(r["job_id"]) for r in stalled] == [running_job]
        assert 1200 <= seconds(stalled[0]["running_for"]) < 1300
        assert stalled[0]["import_id"] == failed_import["import_id"]
        assert seconds(stalled[0]["since_worker_heartbeat"]) < 10
        assert ops(stack.database_url, "stalled_jobs.sql", stalled_after=3600) == []
        assert waiting_job not in [int(r["job_id"]) for r in stalled]


@contextmanager
def probe_jobs(db: Any, import_id: str) -> Iterator[tuple[int, int]]:
    """On a queue of their own: a job of the import `doing` for 20 minutes on the live worker,
    and a job waiting 10 minutes behind it (same lock, so no worker takes it). Both end on exit."""
    (worker_id,) = db.execute("SELECT min(id) FROM procrastinate_workers").fetchone()
    (running,) = db.execute(
        "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, args, status, worker_id)"
        " VALUES ('ops_probe', 'ops.probe', 'ops-probe', %s, 'doing', %s) RETURNING id",
        (Jsonb({"import_id": import_id, "file_id": "probe"}), worker_id),
    ).fetchone()
    db.execute(
        "INSERT INTO procrastinate_events (job_id, type, at)"
        " VALUES (%s, 'started', now() - interval '20 minutes')",
        (running,),
    )
    ((waiting,),) = db.execute(
        "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW('ops_probe', 'ops.probe', 0, 'ops-probe',"
        " NULL, '{}'::jsonb, NULL)::procrastinate_job_to_defer_v1])"
    ).fetchone()
    db.execute(
        "UPDATE procrastinate_events SET at = now() - interval '10 minutes' WHERE job_id = %s",
        (waiting,),
    )
    try:
        yield running, waiting
    finally:
        db.execute("SELECT procrastinate_cancel_job_v1(%s, false, false)", (waiting,))
        db.execute("SELECT procrastinate_finish_job_v1(%s, 'succeeded', false)", (running,))


def test_workers_lists_the_live_workers_with_their_queues_concurrency_and_heartbeat(
    stack: Stack,
) -> None:
    def described() -> bool:
        """every worker described itself"""
        rows = ops(stack.database_url, "workers.sql")
        return len(rows) == 3 and all(row["name"] for row in rows)

    eventually(described)
    rows = ops(stack.database_url, "workers.sql")

    # This module's one worker process: its imports', derivatives' and webhooks' workers, each
    # as it described itself once registered.
    assert {row["name"]: (row["serves_queues"], row["concurrency"]) for row in rows} == {
        "imports": ("listing, transfers", "8"),
        "webhooks": ("webhooks", "4"),
        "derivatives": ("derivatives", "1"),
    }
    assert {row["pid"] for row in rows} == {str(stack.worker.pid)}
    for row in rows:
        assert row["host"]
        last = datetime.fromisoformat(row["last_heartbeat"])
        assert (datetime.now(UTC) - last).total_seconds() < 10  # HEARTBEAT_SECONDS is 1 here
        assert seconds(row["since_heartbeat"]) < 10
        assert datetime.fromisoformat(row["started_at"]) <= last
        # Only a periodic job may be running now.
        assert int(row["jobs_running"]) in (0, 1)


async def test_requeue_failed_files_completes_the_import_again_with_exact_counts(
    api: AsyncTestClient[Any], stack: Stack, failed_import: dict[str, Any]
) -> None:
    import_id = failed_import["import_id"]
    fixture = stack.drive.fixture
    with stack.db() as db:
        jobs_before = transfer_jobs(db, import_id)

    (row,) = ops(stack.database_url, "requeue_failed_files.sql", import_id=import_id)

    assert int(row["requeued"]) == 5
    failed_ids = {fixture.id_of(f"operated/{name}") for name in QUOTA_FILES} | {
        fixture.id_of(f"operated/flagged_{i}.jpg") for i in (1, 2)
    }

    def queued_once_more() -> bool:
        """the worker queued one transfer more for each requeued file, and no other"""
        with stack.db() as db:
            return transfer_jobs(db, import_id) == {
                file_id: count + (1 if file_id in failed_ids else 0)
                for file_id, count in jobs_before.items()
            }

    # SQL cannot queue a job through Procrastinate: the worker does, within seconds.
    eventually(queued_once_more)

    result = await wait_for_import(api, import_id)
    assert result["status"] == "completed_with_errors"
    assert result["counts"] == {
        "discovered": 23,
        "imported": 20,
        "unchanged": 0,
        "skipped": 1,
        "failed": 2,
        "removed": 0,
        "settled": 23,
        "waiting_for_quota": 0,
    }
    images = fixture.expected_images("operated")
    assert len(images) == 20
    assert result["bytes_imported"] == sum(image.size for image in images)
    assert set(stack.objects()) >= {f"content/{image.sha256}" for image in images}
    failures = ops(stack.database_url, "import_failures.sql", import_id=import_id)
    assert [(r["reason"], int(r["files"])) for r in failures] == [(ABUSIVE, 2)]
    (progress,) = ops(stack.database_url, "import_progress.sql", import_id=import_id)
    assert (progress["status"], int(progress["imported"]), int(progress["failed"])) == (
        "completed_with_errors",
        20,
        2,
    )


def test_requeue_is_refused_for_imports_that_cannot_be_retried(stack: Stack) -> None:
    with stack.db() as db:
        failed = insert_import(db, status="failed", error="folder not found")
        queued = insert_import(db, status="queued")
        cancelled = insert_import(db, status="cancelled")
        # A finished import with failures whose folder has another import running.
        busy = insert_import(db, status="completed_with_errors", failed=1)
        (folder,) = db.execute("SELECT folder_id FROM imports WHERE id = %s", (busy,)).fetchone()
        db.execute(
            "INSERT INTO import_files (import_id, source_file_id, name, mime_type, state)"
            " VALUES (%s, '1Busy', 'b.jpg', 'image/jpeg', 'failed')",
            (busy,),
        )
        insert_import(db, status="running", folder_id=folder)

    expected = {
        failed: "failed as a whole (its folder could not be listed)",
        queued: "has not started yet",
        cancelled: "was cancelled",
        busy: "another import of the same folder is running",
        "00000000-0000-0000-0000-000000000000": "no import with id",
    }
    for import_id, message in expected.items():
        run = run_ops_file(stack.database_url, "requeue_failed_files.sql", import_id=import_id)
        assert run.returncode != 0, import_id
        assert message in run.stderr, run.stderr

    with stack.db() as db:
        # Refused means untouched: the failed file is still failed and no job was queued.
        assert db.execute(
            "SELECT state FROM import_files WHERE import_id = %s", (busy,)
        ).fetchall() == [("failed",)]
        assert transfer_jobs(db, busy) == {}


def test_requeue_of_an_import_without_failures_changes_nothing(stack: Stack) -> None:
    with stack.db() as db:
        done = insert_import(db, status="completed")
    (row,) = ops(stack.database_url, "requeue_failed_files.sql", import_id=done)
    assert int(row["requeued"]) == 0
    with stack.db() as db:
        assert db.execute("SELECT status FROM imports WHERE id = %s", (done,)).fetchone() == (
            "completed",
        )


@pytest.mark.parametrize(
    ("files", "size", "batch_sizes"),
    # As a listing page queues them: 100 files at most, and a file at the multipart threshold
    # (16 MiB) alone.
    [(250, 1000, [100, 100, 50]), (3, 30_000_000, [1, 1, 1])],
)
def test_requeue_queues_the_failed_files_in_batches_bounded_by_count_and_bytes(
    stack: Stack, files: int, size: int, batch_sizes: list[int]
) -> None:
    with stack.db() as db:
        import_id = insert_import(db, status="completed_with_errors", failed=files)
        failed = sorted(
            insert_import_file(db, import_id, state="failed", reason="gone", size=size)
            for _ in range(files)
        )
        (requeued,) = db.execute("SELECT requeue_failed_files(%s)", (import_id,)).fetchone()

    def all_queued() -> bool:
        """the worker queued a transfer batch for every requeued file"""
        with stack.db() as db:
            return sum(len(a["file_ids"]) for a in transfer_batches(db, import_id)) >= files

    eventually(all_queued)
    with stack.db() as db:
        batches = [args["file_ids"] for args in transfer_batches(db, import_id)]
    assert requeued == files
    assert [len(batch) for batch in batches] == batch_sizes
    assert [file_id for batch in batches for file_id in batch] == failed
