"""A page of the console's jobs of one status (GET /ops/jobs, domain/ops/repository.py:
list_jobs_query) reads about a page of jobs, whatever queue or task it shows: the statements the
repository composes, EXPLAIN ANALYZEd on a seeded, analysed table where the jobs of each status
sit together (the queued ones older than the failed and cancelled ones, as in the console's
benchmark, and one queue's failures older than every other job), read no job by a sequential
scan nor walk an index past the other statuses' or queues', and answer what a plain query over
the table answers."""

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from domain.ops.repository import list_jobs_query

PAGE = 51
# What a page may read: its own rows, and those of another task of its queue (none here).
ROWS_READ_PER_PAGE = 2 * PAGE
QUEUED, FAILED, CANCELLED = 20_000, 14_000, 6_000
# A fourth queue, of one task, whose failures are older than every other job and whose queued
# jobs are newer: too many to read and sort for a page, behind every other queue's failures.
SYNCS = 5_000
IMPORTS = 100

_SYNCS = """
INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, attempts)
SELECT 'syncs', 'sync.run', '{}', %s::procrastinate_job_status, 0 FROM generate_series(1, %s)
"""
# Queued jobs over three queues, then the failed and the cancelled ones (as
# bench/ops_console.py lays them out, at a fifth of its size).
_FILL = """
INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, attempts)
SELECT (ARRAY['transfers', 'transfers', 'listing', 'derivatives'])[1 + n %% 4],
       (ARRAY['import.transfer_batch', 'import.transfer_batch', 'import.list_folder_page',
              'image.make_derivatives'])[1 + n %% 4],
       jsonb_build_object('import_id', md5((n %% %(imports)s)::text)::uuid::text),
       CASE WHEN n <= %(queued)s THEN 'todo'
            WHEN n <= %(queued_or_failed)s THEN 'failed'
            ELSE 'cancelled' END::procrastinate_job_status,
       CASE WHEN n <= %(queued)s THEN 0 ELSE 3 END
FROM generate_series(1, %(total)s) AS n;
"""


@pytest.fixture(scope="module")
def db(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(_SYNCS, ("failed", SYNCS))
        conn.execute(
            _FILL,
            {
                "queued": QUEUED,
                "queued_or_failed": QUEUED + FAILED,
                "total": QUEUED + FAILED + CANCELLED,
                "imports": IMPORTS,
            },
        )
        conn.execute(_SYNCS, ("todo", SYNCS))
        conn.execute("ANALYZE procrastinate_jobs")
        yield conn


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def rows_read(plan: dict[str, Any]) -> int:
    """The jobs the plan's scans of procrastinate_jobs handed up or threw away."""
    return sum(
        (n["Actual Rows"] + n.get("Rows Removed by Filter", 0)) * n["Actual Loops"]
        for n in nodes(plan)
        if n.get("Relation Name") == "procrastinate_jobs"
    )


def expected_ids(db: psycopg.Connection[Any], filters: dict[str, Any]) -> list[int]:
    """The same page, by a plain query over the table."""
    columns = {
        "before_id": "id < %s",
        "queue": "queue_name = %s",
        "task": "task_name = %s",
        "status": "status = %s::procrastinate_job_status",
        "import_id": "args ->> 'import_id' = %s",
    }
    where = " AND ".join(["true", *(columns[name] for name in filters)])
    rows = db.execute(
        f"SELECT id FROM procrastinate_jobs WHERE {where} ORDER BY id DESC LIMIT {PAGE}",
        list(filters.values()),
    ).fetchall()
    return [row[0] for row in rows]


# The overview's links with a status (a queue's ready, running and failed jobs, a task's failed
# ones, the running ones), a status alone, older pages, and the old failures of a queue. Without
# a status a page is read down the primary key, past the newer jobs of other queues and tasks
# (README, "A page of jobs reads a page of jobs"): only the unfiltered list is held here. Nor is
# an older page near the oldest jobs: finding few jobs below its cursor, the planner may read
# them all.
CASES: list[dict[str, Any]] = [
    {"status": "failed"},
    {"status": "todo"},
    {"status": "cancelled"},
    {"status": "doing"},
    {"status": "todo", "queue": "transfers"},
    {"status": "todo", "queue": "listing"},
    {"status": "doing", "queue": "transfers"},
    {"status": "failed", "queue": "listing"},
    {"status": "failed", "queue": "syncs"},
    {"status": "failed", "task": "image.make_derivatives"},
    {"status": "failed", "task": "sync.run"},
    {"status": "failed", "queue": "syncs", "task": "sync.run"},
    {"status": "todo", "task": "import.list_folder_page"},
    {"status": "todo", "queue": "transfers", "task": "import.transfer_batch"},
    {"status": "todo", "queue": "transfers", "before_id": SYNCS + QUEUED // 2},
    {"status": "failed", "queue": "listing", "before_id": SYNCS + QUEUED + FAILED // 2},
    {"status": "failed", "before_id": SYNCS + QUEUED + FAILED // 2},
    {},
]


def case_id(filters: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in filters.items()) or "no filter"


@pytest.mark.parametrize("filters", CASES, ids=case_id)
def test_a_page_of_jobs_reads_about_a_page_of_jobs(
    db: psycopg.Connection[Any], filters: dict[str, Any]
) -> None:
    query, params = list_jobs_query(limit=PAGE, **filters)
    explained = db.execute(sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) ") + query, params).fetchone()
    assert explained is not None
    root = explained[0][0]["Plan"]
    assert "Seq Scan" not in {n["Node Type"] for n in nodes(root)}, root
    assert rows_read(root) <= ROWS_READ_PER_PAGE, root
    page = [row[0] for row in db.execute(query, params).fetchall()]
    assert page == expected_ids(db, filters)


def test_a_page_of_one_imports_failed_jobs_is_the_newest_of_them(
    db: psycopg.Connection[Any],
) -> None:
    """An import's jobs are found by procrastinate_jobs_import_id_idx or in order of their
    status; either way the page is the right one."""
    import_id = db.execute("SELECT md5('7')::uuid::text").fetchone()
    assert import_id is not None
    filters = {"status": "failed", "import_id": import_id[0]}
    query, params = list_jobs_query(limit=PAGE, **filters)
    page = [row[0] for row in db.execute(query, params).fetchall()]
    assert len(page) == PAGE
    assert page == expected_ids(db, filters)
