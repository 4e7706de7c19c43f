"""The operators' sync files, run with psql: every sync with its last run, and the images
syncs found gone."""

from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import Stack
from tests.helpers import wait_for_import
from tests.ops.psql import ops


async def test_syncs_sql_shows_each_sync_with_its_last_run_and_removed_images(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    response = await api.post(
        "/syncs", json={"url": stack.drive.fixture.link("ops synced"), "every": "6h"}
    )
    assert response.status_code == 201, response.text
    sync = response.json()
    run = await wait_for_import(api, sync["last_run"]["import_id"])
    with stack.db() as db:
        # What a run that found one file gone leaves.
        db.execute(
            """UPDATE images SET removed_at = now(), removed_by_sync_id = %s
               WHERE id = (SELECT id FROM images WHERE import_id = %s ORDER BY name LIMIT 1)""",
            (sync["sync_id"], run["import_id"]),
        )

    rows = ops(stack.database_url, "syncs.sql", sync_id=sync["sync_id"])
    assert len(rows) == 1
    row = rows[0]
    assert (row["every"], row["on_removed"], row["paused"]) == ("06:00:00", "keep", "f")
    assert (row["runs"], row["last_import_id"], row["last_status"]) == (
        "1",
        run["import_id"],
        "completed",
    )
    assert (row["last_imported"], row["removed_images"]) == ("6", "1")
    assert sync["sync_id"] in [r["sync_id"] for r in ops(stack.database_url, "syncs.sql")]

    removed = ops(stack.database_url, "removed_images.sql", sync_id=sync["sync_id"])
    assert [(r["sync_id"], r["on_removed"]) for r in removed] == [(sync["sync_id"], "keep")]
    assert removed[0]["name"] == "pic_1.png"
