"""The operators' routes on the module's stack (the real worker): a queued job cancelled and
logged with the operator who asked, every declared periodic task with its next tick, the
workers with the queues and concurrency they were started with, and the queues' counts as
exact as the jobs table's."""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from domain.periodic_schedules import PERIODIC_SCHEDULES
from tests.conftest import Stack
from tests.helpers import eventually

OPS_TOKEN = "ops-routes-test-token"
API_SETTINGS = {"ops_token": OPS_TOKEN}
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}


def queued_job(stack: Stack, queue: str = "ops_test", task: str = "ops.test") -> int:
    """A job on a queue no worker takes."""
    with stack.db() as db:
        ((job_id,),) = db.execute(
            "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(%s, %s, 0, NULL, NULL,"
            " '{}'::jsonb, NULL)::procrastinate_job_to_defer_v1]))",
            (queue, task),
        ).fetchall()
    return int(job_id)


async def test_cancelling_a_job_is_logged_with_the_operator(
    api: AsyncTestClient[Any], stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = queued_job(stack)
    with caplog.at_level(logging.WARNING, logger="api.ops"):
        answer = await api.post(
            f"/ops/jobs/{job_id}/cancel", headers={**OPS, "X-Operator": "carol"}
        )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"job_id": job_id, "action": "cancelled", "status": "cancelled"}
    assert f"ops.job_cancelled job_id={job_id} task=ops.test import_id=None by=carol" in (
        caplog.text
    )


async def test_every_declared_periodic_task_is_listed_with_its_next_tick(
    api: AsyncTestClient[Any],
) -> None:
    before = datetime.now(UTC)
    items = (await api.get("/ops/periodic", headers=OPS)).json()["items"]
    after = datetime.now(UTC)

    declared = {(s.task_name, s.periodic_id): s for s in PERIODIC_SCHEDULES}
    listed = {(i["task"], i["periodic_id"]): i for i in items}
    assert set(declared) <= set(listed)
    for key, schedule in declared.items():
        item = listed[key]
        assert (item["every_seconds"], item["cron"]) == (schedule.every_seconds, schedule.cron)
        next_run = datetime.fromisoformat(item["next_run_at"])
        assert schedule.next_run_after(before) <= next_run <= schedule.next_run_after(after)
        assert before < next_run <= after + timedelta(seconds=schedule.every_seconds)


async def test_the_workers_show_their_queues_and_concurrency(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    def described() -> bool:
        """the worker's three Procrastinate workers described themselves"""
        with stack.db() as db:
            return db.execute("SELECT count(*) FROM worker_processes").fetchone() == (3,)

    eventually(described)
    items = (await api.get("/ops/workers", headers=OPS)).json()["items"]
    assert {i["name"]: (i["serves_queues"], i["concurrency"]) for i in items} == {
        "imports": (["listing", "transfers"], 8),
        "webhooks": (["webhooks"], 4),
        "derivatives": (["derivatives"], 1),
    }
    assert {i["pid"] for i in items} == {stack.worker.pid}
    assert all(i["alive"] and i["host"] and i["started_at"] for i in items)


async def test_the_queues_counts_are_the_jobs_tables(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    for _ in range(3):
        queued_job(stack, queue="ops_counted", task="ops.counted")
    cancelled = queued_job(stack, queue="ops_counted", task="ops.counted")
    assert (await api.post(f"/ops/jobs/{cancelled}/cancel", headers=OPS)).status_code == 200

    overview = (await api.get("/ops/queues", headers=OPS)).json()
    [queue] = [q for q in overview["queues"] if q["name"] == "ops_counted"]
    assert (queue["todo"], queue["scheduled"], queue["cancelled"]) == (3, 0, 1)
    assert queue["oldest_waiting_seconds"] is not None
    with stack.db() as db:
        by_status = dict(
            db.execute(
                "SELECT status::text, count(*) FROM procrastinate_jobs"
                " WHERE queue_name = 'ops_counted' GROUP BY 1"
            ).fetchall()
        )
    assert by_status == {"todo": 3, "cancelled": 1}
    [task] = [t for t in overview["tasks"] if t["name"] == "ops.counted"]
    assert (task["queue"], task["todo"], task["cancelled"]) == ("ops_counted", 3, 1)
