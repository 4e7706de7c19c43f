"""The album backfill on the real stack: images stored before albums existed (made so here by
taking an import's albums away, as migration 0029 found them) get the albums a new import
would have given them, from the worker's periodic `album.backfill`, which lists the import's
folders again; a worker killed midway leaves a backfill that the next one finishes, each page
recorded once; an import of the same folder running at the same time makes no second album
and leaves every count true; and an import whose folder is gone is passed over, saying why."""

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from emulators.google_drive import DriveFixture, EmulatorServer
from tests.conftest import Stack, start_worker, stop_worker
from tests.helpers import wait_for_import
from tests.ops.psql import ops

# Two files a page: every folder of the tree takes pages, and the root several.
WORKER_ENV = {"LISTING_PAGE_SIZE": "2"}


def drive_id(name: str) -> str:
    """A Drive-shaped id of our choosing: the backfill lists a tree's folders in id order, so
    "Z day" (1FillZ...) is listed after "A day" and "Beach" (1FillA...)."""
    return ("1" + name + "x" * 33)[:33]


def file(name: str) -> dict[str, Any]:
    return {"name": name, "id": drive_id("Fill" + name.replace(".", "")), "size": 1500}


SPEC = {
    "folders": [
        {
            "name": "Old trip",
            "files": [file("a.jpg"), file("b.jpg"), file("b2.jpg"), {"name": "x.txt", "size": 9}],
            "folders": [
                {
                    "name": "A day",
                    "id": drive_id("FillA"),
                    "files": [file("c.jpg"), file("d.jpg"), file("e.jpg")],
                    "folders": [
                        {"name": "Beach", "id": drive_id("FillAbeach"), "files": [file("f.jpg")]}
                    ],
                },
                {"name": "Z day", "id": drive_id("FillZ"), "files": [file("g.jpg")]},
                {"name": "Empty", "id": drive_id("FillEmpty")},
            ],
        },
        {"name": "Gone trip", "files": [file("z.jpg")]},
    ]
}
# The tree's albums as an import makes them: path → images in it.
EXPECTED = {
    "Old trip": {"a.jpg", "b.jpg", "b2.jpg"},
    "Old trip/A day": {"c.jpg", "d.jpg", "e.jpg"},
    "Old trip/A day/Beach": {"f.jpg"},
    "Old trip/Empty": set(),
    "Old trip/Z day": {"g.jpg"},
}


@pytest.fixture(scope="module")
def drive() -> Iterator[EmulatorServer]:
    with EmulatorServer(DriveFixture(SPEC)) as server:
        yield server


def albums_as_stored(db: psycopg.Connection[Any]) -> dict[str, tuple[int, set[str]]]:
    """Every album: path → (its image_count, the names of the images whose album it is)."""
    rows = db.execute(
        """
        SELECT a.path, a.image_count, array_remove(array_agg(i.name), NULL)
        FROM albums a LEFT JOIN images i ON i.album_id = a.id
        GROUP BY a.id
        """
    ).fetchall()
    paths = [row[0] for row in rows]
    assert len(paths) == len(set(paths)), f"an album twice: {sorted(paths)}"
    return {path: (count, set(names)) for path, count, names in rows}


def expected_albums() -> dict[str, tuple[int, set[str]]]:
    return {path: (len(names), names) for path, names in EXPECTED.items()}


def forget_albums(stack: Stack, import_id: str) -> None:
    """What a database upgraded to 0029 holds of an import made before it: no album, no
    image in one, no file's folder."""
    with stack.db() as db, db.transaction():
        db.execute("UPDATE images SET album_id = NULL WHERE import_id = %s", (import_id,))
        db.execute("UPDATE import_files SET folder_id = NULL WHERE import_id = %s", (import_id,))
        db.execute("DELETE FROM albums")
        assert db.execute("SELECT count(*) FROM images WHERE album_id IS NOT NULL").fetchone() == (
            0,
        )


@contextmanager
def forgotten_and_held(stack: Stack, import_id: str) -> Iterator[psycopg.Connection[Any]]:
    """The import's albums forgotten and its image in "Z day" locked by the transaction
    yielded, while no worker runs (so that no backfill starts before the lock is taken); then
    a worker started."""
    stop_worker(stack.worker)
    forget_albums(stack, import_id)
    with psycopg.connect(stack.database_url) as holder:
        held = holder.execute(
            "SELECT 1 FROM images WHERE name = 'g.jpg' AND import_id = %s FOR UPDATE",
            (import_id,),
        ).fetchall()
        assert held == [(1,)]
        stack.worker = start_worker(stack.env, stack.worker_log)
        yield holder


async def wait_until_held(db: psycopg.Connection[Any], timeout: float = 90) -> None:
    """Until the backfill waits for the image we hold: it listed "Z day" and records it."""
    deadline = time.monotonic() + timeout
    while db.execute(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND query LIKE '%album_place_listed_images%'"
    ).fetchone() == (0,):
        assert time.monotonic() < deadline, "the backfill did not reach the held image"
        await asyncio.sleep(0.2)


async def import_old_trip(api: AsyncTestClient[Any], stack: Stack) -> str:
    response = await api.post("/imports", json={"url": stack.drive.fixture.link("Old trip")})
    assert response.status_code == 202, response.text
    done = await wait_for_import(api, response.json()["import_id"])
    assert done["status"] == "completed", done
    import_id: str = done["import_id"]
    return import_id


def backfill_of(db: psycopg.Connection[Any], import_id: str) -> tuple[Any, ...] | None:
    return db.execute(
        "SELECT finished_at IS NOT NULL, images_placed, error FROM album_backfills "
        "WHERE import_id = %s",
        (import_id,),
    ).fetchone()


async def wait_for_backfill(stack: Stack, import_id: str, timeout: float = 90) -> tuple[Any, ...]:
    deadline = time.monotonic() + timeout
    with stack.db() as db:
        while (row := backfill_of(db, import_id)) is None or not row[0]:
            assert time.monotonic() < deadline, f"backfill of {import_id} not finished: {row}"
            await asyncio.sleep(0.3)
    return row


async def test_images_stored_without_albums_get_them_from_the_backfill_even_after_a_killed_worker(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    import_id = await import_old_trip(api, stack)
    with stack.db() as db:
        assert albums_as_stored(db) == expected_albums()

    # The image in "Z day" held by a transaction of ours: the backfill records the folders it
    # lists before it (the root's first pages, "A day" and its "Beach": it lists a tree's
    # folders in id order) and waits there, and the worker is killed waiting.
    with forgotten_and_held(stack, import_id) as holder:
        with stack.db() as db:
            await wait_until_held(db)
            stack.worker.kill()
            stack.worker.wait()
            # Nothing of the last page was recorded; what came before stays.
            partial = albums_as_stored(db)
            assert partial["Old trip/A day/Beach"] == (1, {"f.jpg"})
            assert partial["Old trip/Z day"] == (0, set())
            assert backfill_of(db, import_id) == (False, 7, None)
        holder.rollback()

    stack.worker = start_worker(stack.env, stack.worker_log)
    assert await wait_for_backfill(stack, import_id) == (True, 8, None)
    with stack.db() as db:
        assert albums_as_stored(db) == expected_albums()
        # Each folder's pages recorded once, the one whose recording the kill cut included.
        pages = dict(
            db.execute(
                "SELECT folder_id, pages_listed FROM album_backfill_folders WHERE import_id = %s",
                (import_id,),
            ).fetchall()
        )
        assert pages[drive_id("FillZ")] == 1
        assert pages[drive_id("FillAbeach")] == 1
    # What an operator reads of it.
    (row,) = [
        r for r in ops(stack.database_url, "album_backfill.sql") if r["import_id"] == import_id
    ]
    assert (row["images_placed"], row["folders_listed"], row["folders_left"]) == ("8", "5", "0")
    assert (row["images_without_album"], row["error"]) == ("0", "")
    # The albums are the API's as an import's are.
    listed = (await api.get("/albums", params={"limit": 50})).json()["items"]
    by_path = {album["path"]: album for album in listed}
    assert by_path["Old trip/A day"]["parent_id"] == by_path["Old trip"]["id"]
    assert by_path["Old trip/A day/Beach"]["parent_id"] == by_path["Old trip/A day"]["id"]
    assert by_path["Old trip"]["parent_id"] is None


async def test_an_import_of_the_same_folder_during_the_backfill_makes_no_second_album(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    old_import = await import_old_trip(api, stack)

    # The backfill held halfway again, an import of the same folder started meanwhile, then
    # both let go: their listings record the same folders' albums and the same images.
    with forgotten_and_held(stack, old_import) as holder:
        with stack.db() as db:
            await wait_until_held(db)
        response = await api.post("/imports", json={"url": stack.drive.fixture.link("Old trip")})
        assert response.status_code == 202, response.text
        new_import = response.json()["import_id"]
        await asyncio.sleep(1.0)
        holder.rollback()

    done = await wait_for_import(api, new_import)
    assert done["status"] == "completed", done
    assert done["counts"]["unchanged"] == 8
    await wait_for_backfill(stack, old_import)
    with stack.db() as db:
        assert albums_as_stored(db) == expected_albums()
        assert db.execute("SELECT count(*) FROM images WHERE album_id IS NULL").fetchone() == (0,)


async def test_an_import_whose_folder_is_gone_is_passed_over_saying_why(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    response = await api.post("/imports", json={"url": stack.drive.fixture.link("Gone trip")})
    assert response.status_code == 202, response.text
    gone_import = (await wait_for_import(api, response.json()["import_id"]))["import_id"]
    stop_worker(stack.worker)
    forget_albums(stack, gone_import)
    stack.drive.replace_fixture(DriveFixture({"folders": SPEC["folders"][:1]}))
    try:
        stack.worker = start_worker(stack.env, stack.worker_log)
        finished, placed, error = await wait_for_backfill(stack, gone_import)
    finally:
        stack.drive.replace_fixture(DriveFixture(SPEC))
    assert (finished, placed) == (True, 0)
    assert "was not found" in error, error
    with stack.db() as db:
        assert db.execute(
            "SELECT album_id FROM images WHERE import_id = %s", (gone_import,)
        ).fetchall() == [(None,)]
