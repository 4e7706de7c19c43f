"""What the worker records for the operators' console beside Procrastinate's tables
(domain/ops/recording.py): a worker's description goes with Procrastinate's row of it, however
that row goes; a job keeps its last five failures, and they go with the job."""

from collections.abc import AsyncIterator

import pytest
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from domain.db import Connection
from domain.ops.recording import JobFailure, record_job_failure, record_worker_process


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[Connection]:
    async with await AsyncConnection.connect(
        database_url, autocommit=True, row_factory=dict_row
    ) as conn:
        yield conn


async def registered_worker(conn: Connection) -> int:
    cur = await conn.execute("SELECT worker_id FROM procrastinate_register_worker_v1()")
    row = await cur.fetchone()
    assert row is not None
    worker_id = int(row["worker_id"])
    described = await record_worker_process(
        conn,
        worker_id=worker_id,
        name="imports",
        host="box",
        pid=4242,
        queues=["listing", "transfers"],
        concurrency=8,
    )
    assert described
    return worker_id


async def described(conn: Connection, worker_id: int) -> list[dict[str, object]]:
    cur = await conn.execute(
        "SELECT name, host, pid, serves_queues, concurrency FROM queue_workers"
        " WHERE worker_id = %s AND name IS NOT NULL",
        (worker_id,),
    )
    return await cur.fetchall()


async def test_a_workers_description_goes_with_its_procrastinate_row(conn: Connection) -> None:
    unregistered = await registered_worker(conn)
    assert await described(conn, unregistered) == [
        {
            "name": "imports",
            "host": "box",
            "pid": 4242,
            "serves_queues": ["listing", "transfers"],
            "concurrency": 8,
        }
    ]
    await conn.execute("SELECT procrastinate_unregister_worker_v1(%s)", (unregistered,))
    assert await described(conn, unregistered) == []

    pruned = await registered_worker(conn)
    await conn.execute(
        "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' WHERE id = %s",
        (pruned,),
    )
    await conn.execute("SELECT procrastinate_prune_stalled_workers_v1(60)")
    assert await described(conn, pruned) == []
    cur = await conn.execute(
        "SELECT count(*) AS n FROM worker_processes WHERE worker_id IN (%s, %s)",
        (unregistered, pruned),
    )
    assert await cur.fetchone() == {"n": 0}

    # A worker pruned before it described itself leaves nothing to describe.
    assert not await record_worker_process(
        conn, worker_id=pruned, name="imports", host="box", pid=1, queues=[], concurrency=1
    )


async def test_a_job_keeps_its_last_five_failures_and_they_go_with_it(conn: Connection) -> None:
    cur = await conn.execute(
        "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW('listing', 'import.start', 0, NULL, NULL,"
        " '{}'::jsonb, NULL)::procrastinate_job_to_defer_v1]) AS ids"
    )
    row = await cur.fetchone()
    assert row is not None
    [job_id] = row["ids"]
    for attempt in range(1, 8):
        await record_job_failure(
            conn,
            JobFailure(
                job_id=job_id,
                task_name="import.start",
                attempt=attempt,
                outcome="retried",
                error_class="httpx.ReadTimeout",
                message=f"timed out, attempt {attempt}" + "!" * 5000,
                traceback="Traceback (most recent call last):\n" + "x" * 10_000 + "\nthe end",
            ),
        )
    cur = await conn.execute(
        "SELECT attempt, length(message) AS message, length(traceback) AS traceback,"
        " right(traceback, 7) AS tail FROM job_failures WHERE job_id = %s ORDER BY id",
        (job_id,),
    )
    rows = await cur.fetchall()
    assert [r["attempt"] for r in rows] == [3, 4, 5, 6, 7]
    assert {(r["message"], r["traceback"], r["tail"]) for r in rows} == {(1000, 4000, "the end")}

    await conn.execute("DELETE FROM procrastinate_jobs WHERE id = %s", (job_id,))
    cur = await conn.execute("SELECT count(*) AS n FROM job_failures WHERE job_id = %s", (job_id,))
    assert await cur.fetchone() == {"n": 0}
