"""The sync routes: what they take, what they refuse, and what they answer."""

import time
from datetime import datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from tests.api.races import held_by_another_session
from tests.conftest import Stack
from tests.helpers import wait_for_import


async def create(api: AsyncTestClient[Any], url: str, **options: Any) -> dict[str, Any]:
    response = await api.post("/syncs", json={"url": url, "every": "1h", **options})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_new_sync_starts_its_first_run_and_schedules_the_next_an_interval_later(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    sync = await create(api, stack.drive.fixture.link("sync api"), every="PT2H")
    assert sync["every"] == "2h"
    assert sync["every_seconds"] == 7200
    assert sync["on_removed"] == "keep"
    assert sync["paused"] is False
    assert sync["runs"] == 1
    assert sync["folder_id"] == stack.drive.fixture.folder_id("sync api")
    assert "password" not in sync
    run = await wait_for_import(api, sync["last_run"]["import_id"])
    assert run["status"] == "completed"
    assert run["sync_id"] == sync["sync_id"]
    next_run = datetime.fromisoformat(sync["next_run_at"])
    last_run = datetime.fromisoformat(sync["last_run_at"])
    assert next_run - last_run == timedelta(hours=2)

    view = (await api.get(f"/syncs/{sync['sync_id']}")).json()
    assert view["last_run"]["status"] == "completed"
    assert view["last_run"]["counts"]["imported"] == 6
    listed = (await api.get("/syncs")).json()
    assert sync["sync_id"] in [item["sync_id"] for item in listed["items"]]
    runs = (await api.get("/imports", params={"sync_id": sync["sync_id"]})).json()
    assert [run["import_id"] for run in runs["items"]] == [sync["last_run"]["import_id"]]


async def test_a_folder_has_one_sync_and_a_second_is_a_conflict_naming_it(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    sync = await create(api, stack.drive.fixture.link("sync api second"))
    again = await api.post(
        "/syncs", json={"url": stack.drive.fixture.link("sync api second"), "every": "2h"}
    )
    assert again.status_code == 409
    assert sync["sync_id"] in again.json()["detail"]
    assert f"PATCH /syncs/{sync['sync_id']}" in again.json()["detail"]
    # The same id as data, for a client to link to or PATCH without reading the words.
    assert again.json()["conflict"] == {"type": "sync", "id": sync["sync_id"]}
    assert "field" not in again.json()


async def test_intervals_are_checked_against_the_shortest_this_service_allows_naming_every(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    link = stack.drive.fixture.link("sync api second")
    cases = {
        "5m": "shorter than this service allows (15m, SYNC_MIN_INTERVAL_SECONDS)",
        "0s": "shorter than this service allows",
        "soon": "is not an interval; write it like 15m, 1h, 1h30m, 2d or PT1H",
        "400d": "longer than a year",
    }
    for every, message in cases.items():
        response = await api.post("/syncs", json={"url": link, "every": every})
        assert response.status_code == 422, (every, response.text)
        assert message in response.json()["detail"], (every, response.text)
        assert response.json()["field"] == "every", (every, response.text)


async def test_a_link_of_no_source_and_unknown_fields_are_refused(
    api: AsyncTestClient[Any],
) -> None:
    response = await api.post("/syncs", json={"url": "https://example.com/x", "every": "1h"})
    assert response.status_code == 422
    response = await api.post(
        "/syncs",
        json={"url": "https://example.com/x", "every": "1h", "on_removed": "shred"},
    )
    assert response.status_code == 422
    response = await api.post("/syncs", json={"url": "https://example.com/x"})
    assert response.status_code == 422


async def test_pausing_resuming_and_changing_a_sync(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    sync = await create(api, stack.drive.fixture.link("sync api busy"))
    sync_id = sync["sync_id"]

    paused = (await api.patch(f"/syncs/{sync_id}", json={"paused": True})).json()
    assert paused["paused"] is True
    assert paused["next_run_at"] is None
    refused = await api.post(f"/syncs/{sync_id}/run")
    assert refused.status_code == 409
    assert "paused" in refused.json()["detail"]

    resumed = await api.patch(
        f"/syncs/{sync_id}", json={"paused": False, "every": "3h", "on_removed": "delete"}
    )
    assert resumed.status_code == 200, resumed.text
    body = resumed.json()
    assert (body["paused"], body["every"], body["on_removed"]) == (False, "3h", "delete")
    # A new interval counts from the last run.
    assert datetime.fromisoformat(body["next_run_at"]) - datetime.fromisoformat(
        body["last_run_at"]
    ) == timedelta(hours=3)

    # Its first run is still going (300 files at the pace): a second cannot start meanwhile.
    busy = await api.post(f"/syncs/{sync_id}/run")
    if busy.status_code == 409:
        assert sync["last_run"]["import_id"] in busy.json()["detail"]
        live_run = {"type": "import", "id": sync["last_run"]["import_id"]}
        assert busy.json()["conflict"] == live_run
    else:  # the first run was already over on a fast machine
        assert busy.status_code == 202

    too_short = await api.patch(f"/syncs/{sync_id}", json={"every": "1m"})
    assert too_short.status_code == 422
    assert too_short.json()["field"] == "every"
    unknown_field = await api.patch(f"/syncs/{sync_id}", json={"folder_id": "x"})
    assert unknown_field.status_code == 422
    assert unknown_field.json()["field"] == "folder_id"


async def test_deleting_a_sync_stops_its_runs_and_keeps_its_imports(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    listed = (await api.get("/syncs", params={"limit": 1})).json()
    assert len(listed["items"]) == 1 and listed["next_cursor"]
    sync = listed["items"][0]
    deleted = await api.delete(f"/syncs/{sync['sync_id']}")
    assert deleted.status_code == 204
    assert (await api.get(f"/syncs/{sync['sync_id']}")).status_code == 404
    assert (await api.delete(f"/syncs/{sync['sync_id']}")).status_code == 404
    run = (await api.get(f"/imports/{sync['last_run']['import_id']}")).json()
    assert run["sync_id"] is None


async def test_deleting_a_sync_while_a_worker_completes_its_run_waits_instead_of_deadlocking(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    sync = await create(api, stack.drive.fixture.link("sync api deleted"))
    run_id = sync["last_run"]["import_id"]
    await wait_for_import(api, run_id)
    with stack.db() as db:
        image_id = db.execute(
            "SELECT id FROM images WHERE import_id = %s ORDER BY id LIMIT 1", (run_id,)
        ).fetchone()[0]  # type: ignore[index]
    # What a worker completing a run does, in its order: the import's row, then the images it
    # found gone (whose foreign key locks the sync's row); the deletion arrives meanwhile.
    with held_by_another_session(
        stack,
        lambda worker: worker.execute(
            "UPDATE imports SET imported = imported WHERE id = %s", (run_id,)
        ),
        then=lambda worker: worker.execute(
            "UPDATE images SET removed_at = now(), removed_by_sync_id = %s WHERE id = %s",
            (sync["sync_id"], image_id),
        ),
    ) as worker_errors:
        started = time.monotonic()
        response = await api.delete(f"/syncs/{sync['sync_id']}")
        waited = time.monotonic() - started
    assert worker_errors == []
    assert waited > 1
    assert response.status_code == 204, response.text
    run = (await api.get(f"/imports/{run_id}")).json()
    assert run["sync_id"] is None


async def test_an_import_of_a_synced_folder_waits_while_the_worker_deletes_its_removed_images(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    link = stack.drive.fixture.link("sync api removal")
    sync = await create(api, link, on_removed="delete")
    await wait_for_import(api, sync["last_run"]["import_id"])
    # What the worker's deletion of removed images holds while it deletes: the sync's row; the
    # import is asked for meanwhile.
    with held_by_another_session(
        stack,
        lambda deletion: deletion.execute(
            "SELECT 1 FROM syncs WHERE id = %s FOR UPDATE", (sync["sync_id"],)
        ),
    ) as deletion_errors:
        started = time.monotonic()
        response = await api.post("/imports", json={"url": link})
        waited = time.monotonic() - started
    assert deletion_errors == []
    # Not inserted under the deletion: once it is, the next deletion sees a live import.
    assert waited > 1
    assert response.status_code == 202, response.text
    await wait_for_import(api, response.json()["import_id"])


async def test_unknown_and_malformed_sync_ids_are_not_found(api: AsyncTestClient[Any]) -> None:
    for sync_id in ("00000000-0000-0000-0000-000000000000", "not-an-id"):
        assert (await api.get(f"/syncs/{sync_id}")).status_code == 404
        assert (await api.patch(f"/syncs/{sync_id}", json={"paused": True})).status_code == 404
        assert (await api.post(f"/syncs/{sync_id}/run")).status_code == 404
        assert (await api.delete(f"/syncs/{sync_id}")).status_code == 404
