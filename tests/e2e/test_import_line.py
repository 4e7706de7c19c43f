"""MAX_ACTIVE_IMPORTS through the real worker: imports past it wait their turn, queued, with
their place in line, and start oldest first as others end; a waiting import can be cancelled,
and those behind it move up. Starts take their turn under one lock, so two never both take the
last slot."""

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.db import create_pool
from api.settings import Settings as ApiSettings
from domain.imports import repository as import_rows
from emulators.dropbox import DropboxEmulatorServer, DropboxFixture
from tests.api.factories import insert_import
from tests.api.races import race
from tests.conftest import Stack
from tests.dropbox_fixtures import start_dropbox_import
from tests.helpers import wait_for_import
from tests.ops.psql import ops
from worker.sources.base import FolderRef

MAX_ACTIVE_IMPORTS = 2

WORKER_ENV = {"MAX_ACTIVE_IMPORTS": str(MAX_ACTIVE_IMPORTS), "SOURCE_REQUESTS_PER_SECOND": "400"}

LINE_DROPBOX_SPEC: dict[str, Any] = {
    "seed": 47,
    "folders": [
        {
            "name": f"line {n}",
            "files": [{"name_pattern": f"l{n}_{{i}}.jpg", "count": 6, "size": 1500}],
        }
        for n in range(1, 10)
    ],
}


@pytest.fixture(scope="module")
def dropbox() -> Iterator[DropboxEmulatorServer]:
    with DropboxEmulatorServer(DropboxFixture(LINE_DROPBOX_SPEC)) as server:
        yield server


async def positions(api: AsyncTestClient[Any], import_ids: list[str]) -> list[int | None]:
    return [(await api.get(f"/imports/{i}")).json()["queue_position"] for i in import_ids]


async def wait_for_positions(
    api: AsyncTestClient[Any], import_ids: list[str], expected: list[int | None]
) -> None:
    for _ in range(300):
        if await positions(api, import_ids) == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"positions {await positions(api, import_ids)}, not {expected}")


async def test_five_imports_started_at_once_all_complete_in_order_never_more_than_two_running(
    api: AsyncTestClient[Any], stack: Stack, dropbox: DropboxEmulatorServer
) -> None:
    links = [dropbox.fixture.link(f"line {n}") for n in range(1, 6)]
    import_ids = await asyncio.gather(*(start_dropbox_import(api, link) for link in links))
    results = [await wait_for_import(api, import_id) for import_id in import_ids]

    assert [r["status"] for r in results] == ["completed"] * 5, results
    assert all(r["queue_position"] is None and r["error"] is None for r in results)
    with stack.db() as db:
        rows = db.execute(
            "SELECT created_at, id, started_at, finished_at FROM imports"
            " WHERE id = ANY(%s::uuid[]) ORDER BY created_at, id",
            (list(import_ids),),
        ).fetchall()
        waited = db.execute(
            "SELECT count(*) FROM imports WHERE id = ANY(%s::uuid[]) AND waiting_since IS NOT NULL",
            (list(import_ids),),
        ).fetchone()
    assert waited is not None and waited[0] >= 1, "none waited its turn"
    starts = [started for _, _, started, _ in rows]
    assert starts == sorted(starts), "started out of line"
    for started in starts:
        running = [1 for _, _, s, f in rows if s <= started < f]
        assert len(running) <= MAX_ACTIVE_IMPORTS, rows


async def test_a_waiting_import_shows_its_place_and_cancelling_one_moves_the_others_up(
    api: AsyncTestClient[Any], stack: Stack, dropbox: DropboxEmulatorServer
) -> None:
    with stack.db() as db:
        running = [insert_import(db, status="running") for _ in range(MAX_ACTIVE_IMPORTS)]
    waiting = []
    for n in (6, 7, 8):  # one after the other: their order in line is known
        waiting.append(await start_dropbox_import(api, dropbox.fixture.link(f"line {n}")))
    await wait_for_positions(api, waiting, [1, 2, 3])
    listed = (await api.get("/imports", params={"status": "queued"})).json()["items"]
    assert {i["import_id"]: i["queue_position"] for i in listed} == dict(
        zip(waiting, [1, 2, 3], strict=True)
    )
    body = (await api.get(f"/imports/{waiting[0]}")).json()
    assert (body["status"], body["started_at"], body["error"]) == ("queued", None, None)
    (progress,) = ops(stack.database_url, "import_progress.sql", import_id=waiting[2])
    assert (progress["status"], progress["queue_position"]) == ("queued", "3")

    assert (await api.post(f"/imports/{waiting[1]}/cancel")).status_code == 202
    await wait_for_positions(api, [waiting[0], waiting[2]], [1, 2])
    assert (await api.get(f"/imports/{waiting[1]}")).json()["status"] == "cancelled"

    # Slots free again, the line starts, oldest first.
    for import_id in running:
        assert (await api.post(f"/imports/{import_id}/cancel")).status_code == 202
    first, last = [await wait_for_import(api, i) for i in (waiting[0], waiting[2])]
    assert (first["status"], last["status"]) == ("completed", "completed")
    assert datetime.fromisoformat(first["started_at"]) < datetime.fromisoformat(last["started_at"])


async def test_a_sync_run_waits_its_turn_like_any_import(
    api: AsyncTestClient[Any], stack: Stack, dropbox: DropboxEmulatorServer
) -> None:
    with stack.db() as db:
        running = [insert_import(db, status="running") for _ in range(MAX_ACTIVE_IMPORTS)]
    created = await api.post("/syncs", json={"url": dropbox.fixture.link("line 9"), "every": "1h"})
    assert created.status_code == 201, created.text
    run_id = created.json()["last_run"]["import_id"]
    await wait_for_positions(api, [run_id], [1])

    for import_id in running:
        assert (await api.post(f"/imports/{import_id}/cancel")).status_code == 202
    run = await wait_for_import(api, run_id)
    assert (run["status"], run["sync_id"]) == ("completed", created.json()["sync_id"])


async def test_two_starts_at_once_do_not_both_take_the_last_slot(stack: Stack) -> None:
    """Each start takes its turn under one lock: the second waits for the first to commit,
    then finds the slot taken and waits in line. (The imports running meanwhile fill the
    worker's own slots, so that it leaves these two alone.)"""
    with stack.db() as db:
        running = [insert_import(db, status="running") for _ in range(MAX_ACTIVE_IMPORTS)]
        first_id = insert_import(db, status="queued")
        second_id = insert_import(db, status="queued")
        count = db.execute("SELECT count(*) FROM imports WHERE status = 'running'").fetchone()
    assert count is not None
    last_slot = count[0] + 1

    def start_within(import_id: str) -> Any:
        async def start(conn: Any) -> str:
            turn = await import_rows.take_turn(conn, import_id, last_slot)
            if turn == "start":
                await import_rows.start_import(conn, import_id, FolderRef("f"), None)
            return turn

        return start

    pool = create_pool(ApiSettings(database_url=stack.database_url, db_pool_max_size=2))
    await pool.open()
    try:
        first, second = await race(stack, pool, start_within(first_id), start_within(second_id))
    finally:
        await pool.close()
    assert (first, second) == ("start", "waiting")
    with stack.db() as db:
        statuses = dict(
            db.execute(
                "SELECT id::text, status FROM imports WHERE id = ANY(%s::uuid[])",
                ([first_id, second_id],),
            ).fetchall()
        )
        for import_id in (*running, first_id, second_id):
            db.execute("SELECT cancel_import(%s)", (import_id,))
    assert statuses == {first_id: "running", second_id: "queued"}
