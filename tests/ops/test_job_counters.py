"""The job counters behind the console's overview, queue_health and GET /metrics
(migrations/schema/operations.sql): exact through every change Procrastinate's own functions
make (a batch deferral, a fetch, a finish that deletes or keeps the job, a retry, a
cancellation, a bulk delete, a truncate), before and after they are folded; and the oldest
waiting job spelled once, read alike by job_counts and queue_health."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

Db = psycopg.Connection[dict[str, Any]]


@pytest.fixture
def db(database_url: str) -> Iterator[Db]:
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("TRUNCATE procrastinate_jobs CASCADE")
        yield conn


def counted(db: Db) -> dict[tuple[str, str, str], int]:
    rows = db.execute(
        "SELECT queue_name, task_name, status::text AS status, jobs FROM job_counts_by_status"
        " WHERE jobs <> 0"
    ).fetchall()
    return {(r["queue_name"], r["task_name"], r["status"]): r["jobs"] for r in rows}


def actual(db: Db) -> dict[tuple[str, str, str], int]:
    rows = db.execute(
        "SELECT queue_name, task_name, status::text AS status, count(*) AS jobs"
        " FROM procrastinate_jobs GROUP BY 1, 2, 3"
    ).fetchall()
    return {(r["queue_name"], r["task_name"], r["status"]): r["jobs"] for r in rows}


def defer(db: Db, queue: str, task: str, count: int, lock: str | None = None) -> list[int]:
    """`count` jobs in one call of Procrastinate's batch deferral (one INSERT)."""
    jobs = ", ".join(
        f"ROW('{queue}', '{task}', 0, %(lock)s, NULL, '{{}}'::jsonb, NULL)"
        "::procrastinate_job_to_defer_v1"
        for _ in range(count)
    )
    row = db.execute(
        f"SELECT procrastinate_defer_jobs_v1(ARRAY[{jobs}]) AS ids", {"lock": lock}
    ).fetchone()
    assert row is not None
    return list(row["ids"])


def fetch(db: Db, queue: str) -> int:
    worker = db.execute("SELECT worker_id FROM procrastinate_register_worker_v1()").fetchone()
    assert worker is not None
    row = db.execute(
        "SELECT id FROM procrastinate_fetch_job_v2(%s, %s)", ([queue], worker["worker_id"])
    ).fetchone()
    assert row is not None and row["id"] is not None
    return int(row["id"])


def assert_exact(db: Db) -> None:
    assert counted(db) == actual(db)
    db.execute("SELECT job_counts_fold()")
    assert counted(db) == actual(db)
    assert db.execute("SELECT count(*) AS n FROM job_count_changes").fetchone() == {"n": 0}


def test_the_counters_follow_every_change_procrastinate_makes(db: Db) -> None:
    defer(db, "transfers", "import.transfer_batch", 50)
    defer(db, "listing", "import.list_folder_page", 3)
    assert counted(db) == {
        ("transfers", "import.transfer_batch", "todo"): 50,
        ("listing", "import.list_folder_page", "todo"): 3,
    }
    assert_exact(db)

    succeeded = fetch(db, "transfers")
    failed = fetch(db, "transfers")
    kept = fetch(db, "transfers")
    retried = fetch(db, "listing")
    assert counted(db)[("transfers", "import.transfer_batch", "doing")] == 3
    db.execute("SELECT procrastinate_finish_job_v1(%s, 'succeeded', true)", (succeeded,))
    db.execute("SELECT procrastinate_finish_job_v1(%s, 'failed', false)", (failed,))
    db.execute("SELECT procrastinate_finish_job_v1(%s, 'succeeded', false)", (kept,))
    db.execute(
        "SELECT procrastinate_retry_job_v2(%s, now() + interval '1 hour', NULL, NULL, NULL)",
        (retried,),
    )
    assert_exact(db)

    [queued] = defer(db, "listing", "import.start", 1)
    db.execute("SELECT procrastinate_cancel_job_v1(%s, false, false)", (queued,))
    [deleted] = defer(db, "listing", "import.start", 1)
    db.execute("SELECT procrastinate_cancel_job_v1(%s, false, true)", (deleted,))
    assert counted(db)[("listing", "import.start", "cancelled")] == 1
    assert_exact(db)

    # An operator's bulk delete (Procrastinate's remove_old_jobs deletes the same way).
    db.execute("DELETE FROM procrastinate_jobs WHERE status = 'todo' AND id % 2 = 0")
    assert_exact(db)

    db.execute("TRUNCATE procrastinate_jobs CASCADE")
    assert counted(db) == {}


def test_a_rolled_back_change_counts_nothing(db: Db) -> None:
    defer(db, "transfers", "import.transfer_batch", 4)
    with pytest.raises(psycopg.errors.RaiseException), db.transaction():
        defer(db, "transfers", "import.transfer_batch", 10)
        db.execute("DO $$ BEGIN RAISE EXCEPTION 'rolled back'; END $$")
    assert counted(db) == {("transfers", "import.transfer_batch", "todo"): 4}
    assert_exact(db)


def test_a_recount_rebuilds_counters_that_went_wrong(db: Db) -> None:
    defer(db, "transfers", "import.transfer_batch", 7)
    db.execute("SELECT job_counts_fold()")
    db.execute("UPDATE job_count_totals SET jobs = jobs + 100")
    assert counted(db) != actual(db)
    db.execute("SELECT job_counts_recount()")
    assert counted(db) == actual(db) == {("transfers", "import.transfer_batch", "todo"): 7}


def test_job_counts_splits_ready_from_scheduled_and_dates_the_oldest_wait_once(db: Db) -> None:
    first, second = defer(db, "transfers", "import.transfer_batch", 2)
    [later] = defer(db, "transfers", "image.make_derivatives", 1)
    db.execute(
        "UPDATE procrastinate_events SET at = now() - interval '10 minutes' WHERE job_id = %s",
        (first,),
    )
    db.execute(
        "UPDATE procrastinate_jobs SET scheduled_at = now() + interval '1 hour' WHERE id = %s",
        (second,),
    )
    rows = {
        r["task_name"]: r for r in db.execute("SELECT *, now() AS now FROM job_counts").fetchall()
    }
    batch = rows["import.transfer_batch"]
    assert (batch["todo"], batch["scheduled"]) == (1, 1)
    assert timedelta(minutes=10) <= batch["now"] - batch["waiting_since"] < timedelta(minutes=11)
    assert rows["image.make_derivatives"]["todo"] == 1
    assert rows["image.make_derivatives"]["waiting_since"] > batch["waiting_since"]

    # The queue's oldest wait is its tasks' oldest, in queue_health as in the console.
    [health] = db.execute("SELECT * FROM queue_health").fetchall()
    assert (health["queue_name"], health["todo"], health["scheduled"]) == ("transfers", 2, 1)
    assert timedelta(minutes=10) <= health["oldest_waiting"] < timedelta(minutes=11)
    [oldest] = db.execute(
        "SELECT job_id FROM oldest_waiting_jobs WHERE task_name = 'import.transfer_batch'"
    ).fetchall()
    assert oldest["job_id"] == first
    assert later != first
