"""Contents stored once, on the real stack: the same bytes in another folder or under another
name move no byte and are marked duplicates; a renamed or moved file is renamed in place; a
sync's deletion drops an object only with its content's last image, with two workers racing."""

import asyncio
import hashlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from emulators.google_drive import DriveFixture, EmulatorServer
from tests.conftest import Stack, start_worker, stop_worker
from tests.helpers import all_images, eventually, wait_for_import

API_SETTINGS = {"sync_min_interval_seconds": 1}

RENAMED_ID = "1RenamedRenamedRenamedRenamedRena"
RACING_FILES = 30


def drive_spec(version: int = 1) -> dict[str, Any]:
    """Folders that share bytes (content_key): `first` and `second` hold one photo in common;
    `renames` holds a file that version 2 renames and moves into a subfolder, keeping its id
    and bytes; `kept-by-sync` loses its copy of a photo `other-holder` also has in version 2."""
    renamed: dict[str, Any] = {"name": "before.jpg", "id": RENAMED_ID, "size": 2100}
    racing = [
        {"name": f"race-{n}.jpg", "size": 1200 + n, "content_key": f"race-{n}"}
        for n in range(RACING_FILES)
    ]
    return {
        "folders": [
            {
                "name": "first",
                "files": [
                    {"name": "beach.jpg", "size": 3000, "content_key": "beach"},
                    {"name": "dog.png", "size": 2500, "content_key": "dog"},
                ],
            },
            {
                "name": "second",
                "files": [
                    {"name": "copy of beach.jpg", "size": 3000, "content_key": "beach"},
                    {"name": "cat.jpg", "size": 2700, "content_key": "cat"},
                ],
            },
            {
                "name": "renames",
                "files": [renamed] if version == 1 else [],
                "folders": [
                    {
                        "name": "moved",
                        "files": [] if version == 1 else [{**renamed, "name": "after.jpg"}],
                    }
                ],
            },
            {
                "name": "kept-by-sync",
                "files": [{"name": "shared.jpg", "size": 1900, "content_key": "shared"}]
                if version == 1
                else [],
            },
            {
                "name": "other-holder",
                "files": [{"name": "shared too.jpg", "size": 1900, "content_key": "shared"}],
            },
            {
                "name": "alone-by-sync",
                "files": [{"name": "alone.jpg", "size": 1700, "content_key": "alone"}]
                if version == 1
                else [],
            },
            {"name": "racing-sync", "files": racing if version == 1 else []},
            {
                "name": "racing-import",
                "files": [{**f, "name": "again " + f["name"]} for f in racing],
            },
        ]
    }


@pytest.fixture(scope="module")
def drive() -> Iterator[EmulatorServer]:
    with EmulatorServer(DriveFixture(drive_spec())) as server:
        yield server


async def import_folder(api: AsyncTestClient[Any], link: str, **options: Any) -> dict[str, Any]:
    response = await api.post("/imports", json={"url": link, **options})
    assert response.status_code == 202, response.text
    return await wait_for_import(api, response.json()["import_id"])


def content_objects(stack: Stack) -> dict[str, int]:
    return stack.objects("content/")


async def test_the_same_bytes_in_another_folder_move_no_byte_and_are_marked_a_duplicate(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    first = await import_folder(api, fixture.link("first"))
    assert first["counts"]["imported"] == 2
    assert first["bytes_saved"] == 0
    stored = content_objects(stack)
    assert len(stored) == 2

    copy = {f.name: f for f in fixture.expected_images("second")}["copy of beach.jpg"]
    second = await import_folder(api, fixture.link("second"))

    assert second["status"] == "completed"
    assert second["counts"]["imported"] == 2
    # The copy was recognised from the listing (Drive's sha256Checksum): not even downloaded.
    assert stack.drive.stats.media_requests_by_file[copy.id] == 0
    assert second["bytes_saved"] == copy.size
    assert second["bytes_imported"] == copy.size + 2700
    # One object more: the cat's. The beach's bytes are stored once.
    after = content_objects(stack)
    assert len(after) == 3
    assert set(stored) <= set(after)

    images = {i["name"]: i for i in await all_images(api)}
    beach, beach_copy = images["beach.jpg"], images["copy of beach.jpg"]
    assert beach_copy["content_id"] == beach["content_id"] == copy.sha256
    assert beach_copy["storage_path"] == beach["storage_path"]
    assert beach_copy["duplicate_of"] == beach["id"]
    assert beach["duplicate_of"] is None
    assert beach["duplicates"] == beach_copy["duplicates"] == 1
    assert images["cat.jpg"]["duplicates"] == 0
    assert stack.read_object(f"content/{copy.sha256}") == copy.read()
    # Each keeps its own name for downloads.
    content = await api.get(f"/images/{beach_copy['id']}/content", follow_redirects=False)
    assert "copy%20of%20beach.jpg" in content.headers["location"]

    only = {i["name"] for i in await all_images(api, duplicates="only")}
    hidden = {i["name"] for i in await all_images(api, duplicates="hide")}
    assert only == {"copy of beach.jpg"}
    assert "copy of beach.jpg" not in hidden
    assert {"beach.jpg", "dog.png", "cat.jpg"} <= hidden

    totals = (await api.get("/storage")).json()
    assert totals["bytes_saved"] >= copy.size
    assert totals["image_bytes"] - totals["stored_bytes"] == totals["bytes_saved"]


async def test_a_renamed_and_moved_file_is_renamed_in_place_without_moving_its_bytes(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    link = fixture.link("renames")
    first = await import_folder(api, link, recursive=True)
    assert first["counts"]["imported"] == 1
    [before] = await all_images(api, import_id=first["import_id"])
    objects = content_objects(stack)
    downloads = stack.drive.stats.media_requests_by_file[RENAMED_ID]

    stack.drive.replace_fixture(DriveFixture(drive_spec(2)))
    try:
        again = await import_folder(api, link, recursive=True)
    finally:
        stack.drive.replace_fixture(DriveFixture(drive_spec(1)))

    assert again["counts"]["unchanged"] == 1
    assert again["counts"]["imported"] == 0
    assert again["bytes_imported"] == 0
    assert stack.drive.stats.media_requests_by_file[RENAMED_ID] == downloads
    assert content_objects(stack) == objects
    [after] = await all_images(api, import_id=again["import_id"])
    assert after["id"] == before["id"]
    assert after["name"] == "after.jpg"
    assert after["content_id"] == before["content_id"]
    assert after["duplicates"] == 0
    [moved] = [entry for entry in after["history"] if "moved_from" in entry]
    assert (moved["moved_from"], moved["moved_to"]) == ("renames", "renames/moved")
    assert moved["import_id"] == again["import_id"]
    assert after["album_id"] != before["album_id"]
    [renamed] = [entry for entry in after["history"] if "renamed_from" in entry]
    assert renamed["renamed_from"] == "before.jpg"
    assert renamed["renamed_to"] == "after.jpg"
    assert renamed["import_id"] == again["import_id"]


async def sync_and_remove(api: AsyncTestClient[Any], stack: Stack, folder: str) -> dict[str, Any]:
    """A sync of `folder` that deletes what it finds removed; its first run, completed."""
    response = await api.post(
        "/syncs",
        json={"url": stack.drive.fixture.link(folder), "every": "1h", "on_removed": "delete"},
    )
    assert response.status_code == 201, response.text
    sync: dict[str, Any] = response.json()
    await wait_for_import(api, sync["last_run"]["import_id"])
    return sync


async def run_sync(api: AsyncTestClient[Any], sync_id: str) -> dict[str, Any]:
    response = await api.post(f"/syncs/{sync_id}/run")
    assert response.status_code == 202, response.text
    return await wait_for_import(api, response.json()["import_id"])


async def test_a_sync_deletes_an_object_only_with_the_last_image_of_its_content(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    keeping = await sync_and_remove(api, stack, "kept-by-sync")
    alone = await sync_and_remove(api, stack, "alone-by-sync")
    await import_folder(api, stack.drive.fixture.link("other-holder"))
    images = {i["name"]: i for i in await all_images(api)}
    shared_key = f"content/{images['shared.jpg']['content_id']}"
    alone_key = f"content/{images['alone.jpg']['content_id']}"
    assert images["shared too.jpg"]["content_id"] == images["shared.jpg"]["content_id"]

    stack.drive.replace_fixture(DriveFixture(drive_spec(2)))
    try:
        assert (await run_sync(api, keeping["sync_id"]))["counts"]["removed"] == 1
        assert (await run_sync(api, alone["sync_id"]))["counts"]["removed"] == 1
    finally:
        stack.drive.replace_fixture(DriveFixture(drive_spec(1)))

    def removed_images_deleted() -> bool:
        """both removed images' rows are gone, and the lone one's object"""
        with stack.db() as db:
            left = db.execute(
                "SELECT count(*) FROM images WHERE id = ANY(%s::uuid[])",
                ([images["shared.jpg"]["id"], images["alone.jpg"]["id"]],),
            ).fetchone()
        return left == (0,) and not stack.objects(alone_key)

    eventually(removed_images_deleted, timeout=30)
    # The other folder's image still has the shared bytes.
    assert stack.objects(shared_key)
    survivor = (await api.get(f"/images/{images['shared too.jpg']['id']}")).json()
    assert survivor["duplicates"] == 0
    assert stack.read_object(shared_key)


async def test_deletions_and_imports_of_the_same_bytes_racing_on_two_workers_lose_nothing(
    api: AsyncTestClient[Any], stack: Stack, tmp_path: Any
) -> None:
    """A sync deletes the last images of some contents while an import of another folder
    brings the same bytes back, on two workers: afterwards every content's object is in the
    store, every object in the store is a content's or noted for deletion, and every image
    of the import has its bytes."""
    second_worker = start_worker(stack.env, tmp_path / "second-worker.log")
    try:
        sync = await sync_and_remove(api, stack, "racing-sync")
        stack.drive.replace_fixture(DriveFixture(drive_spec(2)))
        try:
            run, again = await asyncio.gather(
                run_sync(api, sync["sync_id"]),
                import_folder(api, stack.drive.fixture.link("racing-import")),
            )
        finally:
            stack.drive.replace_fixture(DriveFixture(drive_spec(1)))
        assert run["status"] == again["status"] == "completed"
        assert run["counts"]["removed"] == RACING_FILES
        assert again["counts"]["imported"] == RACING_FILES
        eventually(lambda: removed_images_gone(stack), timeout=30)
        eventually(lambda: deletions_done(stack), timeout=30)
    finally:
        stop_worker(second_worker)
    assert_nothing_lost_nor_left(stack)
    source = {f.name: f for f in stack.drive.fixture.expected_images("racing-import")}
    for image in await all_images(api, import_id=again["import_id"]):
        key = image["storage_path"].split("/", 3)[3]
        assert stack.read_object(key) == source[image["name"]].read()


def deletions_done(stack: Stack) -> bool:
    """no deletion is due"""
    with stack.db() as db:
        row = db.execute("SELECT count(*) FROM object_deletions WHERE due_at <= now()").fetchone()
    return row == (0,)


def removed_images_gone(stack: Stack) -> bool:
    """the sync's removed images are deleted"""
    with stack.db() as db:
        row = db.execute("SELECT count(*) FROM images WHERE removed_at IS NOT NULL").fetchone()
    return row == (0,)


def assert_nothing_lost_nor_left(stack: Stack) -> None:
    with stack.db() as db:
        contents = {key for (key,) in db.execute("SELECT storage_key FROM contents").fetchall()}
        noted = {
            key
            for (key,) in db.execute(
                "SELECT storage_key FROM object_deletions WHERE due_at IS NOT NULL"
            ).fetchall()
        }
        unpointed = db.execute("SELECT count(*) FROM images WHERE content_id IS NULL").fetchone()
    objects = set(content_objects(stack))
    assert contents <= objects, f"contents without their object: {contents - objects}"
    assert objects <= contents | noted, f"objects nobody uses: {objects - contents - noted}"
    assert unpointed == (0,)


def test_the_backfill_moves_older_objects_to_their_contents_once_and_can_run_again(
    stack: Stack,
) -> None:
    photo = b"\xff\xd8\xff\xe0 an image stored before contents" * 100
    other = b"\x89PNG\r\n\x1a\n another one" * 100
    legacy = {"legacy-a": photo, "legacy-b": photo, "legacy-c": other}
    client = stack.s3.client()
    with stack.db() as db:
        import_id = db.execute(
            """INSERT INTO imports (source, source_url, folder_id, locator, status)
               VALUES ('google_drive', 'https://drive.google.com/drive/folders/old', 'old',
                       '{"folder_id": "old", "resource_key": null}', 'completed')
               RETURNING id::text"""
        ).fetchone()[0]  # type: ignore[index]
        for file_id, data in legacy.items():
            key = f"google_drive/{file_id}"
            client.put_object(Bucket=stack.bucket, Key=key, Body=data)
            db.execute(
                """INSERT INTO images (source, source_file_id, import_id, name, mime_type, size,
                                       checksums, storage_key, storage_path, derivative_state)
                   VALUES ('google_drive', %s, %s, %s, 'image/jpeg', %s,
                           jsonb_build_object('md5', md5(%s::bytea)), %s, %s, 'not_possible')""",
                (file_id, import_id, f"{file_id}.jpg", len(data), data, key,
                 f"s3://{stack.bucket}/{key}"),
            )  # fmt: skip

    def backfill() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "worker.contents.backfill"],
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    # (The two copies move at once: each may copy its bytes, to the same key.)
    assert "moved 3 images to their contents" in backfill()
    with stack.db() as db:
        rows = dict(
            db.execute(
                "SELECT source_file_id, content_id FROM images WHERE import_id = %s", (import_id,)
            ).fetchall()
        )
    assert rows["legacy-a"] == rows["legacy-b"] == hashlib.sha256(photo).hexdigest()
    assert rows["legacy-c"] == hashlib.sha256(other).hexdigest()
    assert stack.read_object(f"content/{rows['legacy-a']}") == photo
    assert stack.read_object(f"content/{rows['legacy-c']}") == other
    with stack.db() as db:
        stored = db.execute(
            "SELECT count(*) FROM contents WHERE sha256 = ANY(%s)", (list(rows.values()),)
        ).fetchone()
    assert stored == (2,)
    # The old objects are gone; a second run finds nothing to do.
    assert not stack.objects("google_drive/legacy-")
    assert "moved 0 images" in backfill()


def test_the_sweep_deletes_objects_no_content_uses_and_only_those(stack: Stack) -> None:
    """What a worker killed between its upload and its commit leaves: a content's object
    without its row, a staged large file."""
    client = stack.s3.client()
    left = [f"content/{'e' * 64}", "staging/google_drive/killed"]
    for key in left:
        client.put_object(Bucket=stack.bucket, Key=key, Body=b"left behind")
    used = set(content_objects(stack)) - set(left)
    assert used
    done = subprocess.run(
        [sys.executable, "-m", "worker.contents.sweep", "--older-than-hours", "0"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.startswith("deleted ")
    assert not set(left) & set(stack.objects())
    assert set(content_objects(stack)) == used
