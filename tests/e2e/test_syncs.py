"""Syncs on the real stack: a folder imported again on a schedule picks up exactly what changed
at the source, notes what is gone, and never runs twice at once, whatever the workers."""

import asyncio
import itertools
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from litestar.testing import AsyncTestClient
from psycopg.types.json import Jsonb

from emulators.google_drive import DriveFixture, EmulatorServer
from tests.conftest import Stack, start_worker, stop_worker
from tests.helpers import all_images, eventually, wait_for_import

# Syncs here run every second, not at the production's shortest quarter hour.
API_SETTINGS = {"sync_min_interval_seconds": 1}


def folder_files(version: int) -> list[dict[str, Any]]:
    """A folder as its owner changes it: version 2 changes one file's bytes, loses one and
    gains one; version 3 brings the lost one back."""
    changed_size = 2000 if version == 1 else 2600
    files: list[dict[str, Any]] = [
        {"name": "kept.jpg", "size": 1500},
        {"name": "changed.jpg", "size": changed_size},
    ]
    if version != 2:
        files.append({"name": "gone.png", "size": 1800})
    if version >= 2:
        files.append({"name": "new.gif", "size": 1600})
    return files


def drive_spec(version: int) -> dict[str, Any]:
    return {
        "folders": [
            {"name": "synced", "files": folder_files(version)},
            {"name": "deleting", "files": folder_files(version)},
            {"name": "scheduled", "files": [{"name": "one.jpg", "size": 1000}]},
            {"name": "raced", "files": [{"name": "one.jpg", "size": 1000}]},
        ]
    }


@pytest.fixture(scope="module")
def drive() -> Iterator[EmulatorServer]:
    """A Drive of this module's own, whose folders the tests change between runs."""
    with EmulatorServer(DriveFixture(drive_spec(1))) as server:
        yield server


async def create_sync(api: AsyncTestClient[Any], url: str, **options: Any) -> dict[str, Any]:
    response = await api.post("/syncs", json={"url": url, "every": "1h", **options})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def run_now(api: AsyncTestClient[Any], sync_id: str) -> str:
    response = await api.post(f"/syncs/{sync_id}/run")
    assert response.status_code == 202, response.text
    import_id: str = response.json()["import_id"]
    return import_id


def by_name(images: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {image["name"]: image for image in images}


async def test_a_sync_run_moves_only_new_and_changed_bytes_and_marks_the_gone_file_removed(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    sync = await create_sync(api, stack.drive.fixture.link("synced"))
    first = await wait_for_import(api, sync["last_run"]["import_id"])
    assert first["status"] == "completed"
    assert first["sync_id"] == sync["sync_id"]
    assert first["counts"]["imported"] == 3

    stack.drive.replace_fixture(DriveFixture(drive_spec(2)))
    second = await wait_for_import(api, await run_now(api, sync["sync_id"]))

    assert second["status"] == "completed"
    assert second["counts"] == {
        "discovered": 3,
        "imported": 2,
        "unchanged": 1,
        "skipped": 0,
        "failed": 0,
        "removed": 1,
        "settled": 3,
        "waiting_for_quota": 0,
    }
    source = {f.name: f for f in stack.drive.fixture.expected_images("synced")}
    # Only the changed and the new file's bytes moved.
    assert second["bytes_imported"] == source["changed.jpg"].size + source["new.gif"].size
    images = by_name(await all_images(api, import_id=second["import_id"]))
    assert set(images) == {"kept.jpg", "changed.jpg", "new.gif"}
    for name, image in images.items():
        assert image["removed_at"] is None
        assert image["md5_checksum"] == source[name].md5
        assert stack.read_object(image["storage_path"].split("/", 3)[3]) == source[name].read()

    removed = await all_images(api, removed="true")
    assert [image["name"] for image in removed] == ["gone.png"]
    assert removed[0]["removed_at"] is not None
    # `on_removed: keep`: the bytes stay where they were.
    assert stack.objects(removed[0]["storage_path"].split("/", 3)[3])
    assert "gone.png" not in by_name(await all_images(api, removed="false"))

    view = (await api.get(f"/syncs/{sync['sync_id']}")).json()
    assert view["runs"] == 2
    assert view["removed_images"] == 1
    assert view["last_run"]["import_id"] == second["import_id"]
    assert view["last_run"]["counts"]["removed"] == 1

    # The file comes back: the image is no longer removed, and its bytes did not move again.
    stack.drive.replace_fixture(DriveFixture(drive_spec(3)))
    third = await wait_for_import(api, await run_now(api, sync["sync_id"]))
    assert third["counts"]["removed"] == 0
    assert third["counts"]["unchanged"] == 4
    assert third["bytes_imported"] == 0
    assert await all_images(api, removed="true") == []
    assert (await api.get(f"/syncs/{sync['sync_id']}")).json()["removed_images"] == 0
    stack.drive.replace_fixture(DriveFixture(drive_spec(1)))


async def test_a_sync_that_deletes_removed_images_deletes_their_objects_and_rows_once(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    stack.drive.replace_fixture(DriveFixture(drive_spec(1)))
    sync = await create_sync(api, stack.drive.fixture.link("deleting"), on_removed="delete")
    first = await wait_for_import(api, sync["last_run"]["import_id"])
    images = by_name(await all_images(api, import_id=first["import_id"]))
    gone_key = images["gone.png"]["storage_path"].split("/", 3)[3]
    kept_key = images["kept.jpg"]["storage_path"].split("/", 3)[3]
    assert stack.objects(gone_key)

    stack.drive.replace_fixture(DriveFixture(drive_spec(2)))
    try:
        second = await wait_for_import(api, await run_now(api, sync["sync_id"]))
    finally:
        stack.drive.replace_fixture(DriveFixture(drive_spec(1)))
    assert second["counts"]["removed"] == 1

    def gone_image_deleted() -> bool:
        """the worker deleted the removed image's object and row"""
        with stack.db() as db:
            row = db.execute(
                "SELECT 1 FROM images WHERE id = %s", (images["gone.png"]["id"],)
            ).fetchone()
        return row is None and not stack.objects(gone_key)

    eventually(gone_image_deleted, timeout=30)
    assert stack.objects(kept_key)
    assert (await api.get(f"/images/{images['gone.png']['id']}")).status_code == 404

    # A deletion cut short after its objects went (the row still says removed) finishes
    # without complaint: deleting an object that is not there succeeds.
    kept = images["kept.jpg"]
    stack.s3.client().delete_object(Bucket=stack.bucket, Key=kept_key)
    with stack.db() as db:
        db.execute(
            "UPDATE images SET removed_at = now(), removed_by_sync_id = %s WHERE id = %s",
            (sync["sync_id"], kept["id"]),
        )

    def cut_deletion_finished() -> bool:
        """the row of an image whose object was already gone was deleted"""
        with stack.db() as db:
            return (
                db.execute("SELECT 1 FROM images WHERE id = %s", (kept["id"],)).fetchone() is None
            )

    eventually(cut_deletion_finished, timeout=30)
    failed_jobs = (
        stack.db()
        .execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'sync.delete_removed_images'"
            " AND status = 'failed'"
        )
        .fetchone()
    )
    assert failed_jobs == (0,)


async def test_two_workers_start_each_scheduled_run_once_and_never_overlap_runs(
    api: AsyncTestClient[Any], stack: Stack, tmp_path: Any
) -> None:
    second_log = tmp_path / "second-worker.log"
    second = start_worker(stack.env, second_log)
    try:
        sync = await create_sync(api, stack.drive.fixture.link("scheduled"), every="1s")
        deadline = time.monotonic() + 60
        while (await api.get(f"/syncs/{sync['sync_id']}")).json()["runs"] < 4:
            assert time.monotonic() < deadline, "the scheduler did not start 4 runs in 60 s"
            await asyncio.sleep(0.5)
        paused = await api.patch(f"/syncs/{sync['sync_id']}", json={"paused": True})
        assert paused.status_code == 200, paused.text
        assert paused.json()["paused"] is True
        assert paused.json()["next_run_at"] is None
        runs = paused.json()["runs"]
        last = await wait_for_import(api, paused.json()["last_run"]["import_id"])
        assert last["status"] == "completed"
    finally:
        stop_worker(second)

    with stack.db() as db:
        imports = db.execute(
            "SELECT id::text, status, created_at, finished_at FROM imports"
            " WHERE sync_id = %s ORDER BY created_at",
            (sync["sync_id"],),
        ).fetchall()
    assert len(imports) == runs
    assert {status for _, status, _, _ in imports} == {"completed"}
    for (_, _, _, finished), (_, _, next_created, _) in itertools.pairwise(imports):
        assert finished <= next_created, "a run started before the previous one ended"
    logs = stack.worker_log.read_text(errors="replace") + second_log.read_text(errors="replace")
    for import_id, *_ in imports[1:]:  # the first run is the API's
        assert logs.count(f"sync.run_started sync_id={sync['sync_id']} import_id={import_id}") == 1


def test_concurrent_schedulers_start_a_due_run_once(stack: Stack) -> None:
    folder_id = stack.drive.fixture.folder_id("raced")
    with stack.db() as db:
        sync_id = db.execute(
            """
            INSERT INTO syncs (source, source_url, folder_id, locator, every, next_run_at)
            VALUES ('google_drive', %s, %s, %s, '1 hour', now() - interval '1 minute')
            RETURNING id::text
            """,
            (
                stack.drive.fixture.link("raced"),
                folder_id,
                Jsonb({"folder_id": folder_id, "resource_key": None}),
            ),
        ).fetchone()[0]  # type: ignore[index]
    with (
        psycopg.connect(stack.database_url) as first,
        psycopg.connect(stack.database_url) as second,
    ):
        started_first = first.execute("SELECT sync_id::text FROM sync_start_due_runs()").fetchall()
        # While the first holds the sync, the second skips it rather than wait and start it
        # again once the first commits.
        started_second = second.execute(
            "SELECT sync_id::text FROM sync_start_due_runs()"
        ).fetchall()
        first.commit()
        second.commit()
        again = second.execute("SELECT sync_id::text FROM sync_start_due_runs()").fetchall()
        second.commit()
    started = [row for row in [*started_first, *started_second, *again] if row == (sync_id,)]
    # The worker's own scheduler runs too, every 5 s: if it got there first, neither did.
    assert len(started) <= 1
    with stack.db() as db:
        runs = db.execute("SELECT count(*) FROM imports WHERE sync_id = %s", (sync_id,)).fetchone()
        assert runs == (1,)
        db.execute("DELETE FROM syncs WHERE id = %s", (sync_id,))
