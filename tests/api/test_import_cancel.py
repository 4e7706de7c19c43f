"""POST /imports/{id}/cancel stops a runaway import and keeps what it already imported."""

import asyncio
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import Stack
from tests.helpers import start_import, wait_for_import

# Small batches: some of them are still queued when the import is cancelled.
WORKER_ENV = {"TRANSFER_BATCH_FILES": "10"}


async def test_cancel_stops_a_running_import_and_freezes_its_counts(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    import_id = await start_import(api, stack.drive.fixture.link("thousand"))
    while (await api.get(f"/imports/{import_id}")).json()["counts"]["imported"] < 20:
        await asyncio.sleep(0.05)

    response = await api.post(f"/imports/{import_id}/cancel")

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["cancelled_jobs"] > 0
    frozen = await wait_for_import(api, import_id)
    assert frozen["status"] == "cancelled"
    assert frozen["finished_at"] is not None
    await asyncio.sleep(2)  # transfers that were running end at their next step
    after = (await api.get(f"/imports/{import_id}")).json()
    assert after["counts"] == frozen["counts"]
    assert after["counts"]["imported"] < 1000
    images = (await api.get("/images", params={"import_id": import_id, "limit": 500})).json()
    assert len(images["items"]) == min(after["counts"]["imported"], 500)

    again = await api.post(f"/imports/{import_id}/cancel")
    assert again.status_code == 202
    assert again.json()["cancelled_jobs"] == 0


async def test_cancelling_a_finished_import_is_a_conflict(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    import_id = await start_import(api, stack.drive.fixture.link("empty"))
    await wait_for_import(api, import_id)
    response = await api.post(f"/imports/{import_id}/cancel")
    assert response.status_code == 409
    assert "already ended" in response.json()["detail"]


async def test_cancelling_an_unknown_import_is_404(api: AsyncTestClient[Any]) -> None:
    for import_id in ["00000000-0000-0000-0000-000000000000", "nope"]:
        response = await api.post(f"/imports/{import_id}/cancel")
        assert response.status_code == 404
