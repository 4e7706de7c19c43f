"""Albums on the real stack: a nested folder imported from the Drive emulator becomes one album
per folder, with the right parents, paths and counts, and its images in them; a sync after
folders were renamed and moved at the source keeps every album's id and follows the changes,
moving no bytes."""

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from emulators.google_drive import DriveFixture, EmulatorServer
from tests.conftest import Stack
from tests.helpers import all_images, wait_for_import


def drive_id(name: str) -> str:
    """A Drive-shaped id that stays the file's or folder's when the fixture renames or moves
    it (the emulator derives ids from paths unless told)."""
    return ("1" + name + "x" * 33)[:33]


def trip(version: int) -> dict[str, Any]:
    """A folder as its owner reorganises it. Version 2 renames "Day 1" to "First day", moves
    "Beach" from "Day 1" into "Day 2", and moves c.jpg from "Day 1" to "Day 2"; ids stay."""
    beach = {"name": "Beach", "id": drive_id("Beach"), "files": [file("e.jpg")]}
    day1_files = [file("d.jpg")] + ([file("c.jpg")] if version == 1 else [])
    day2_files = [file("f.jpg")] + ([file("c.jpg")] if version == 2 else [])
    day1: dict[str, Any] = {
        "name": "Day 1" if version == 1 else "First day",
        "id": drive_id("Day1"),
        "files": day1_files,
        "folders": [beach] if version == 1 else [],
    }
    day2: dict[str, Any] = {
        "name": "Day 2",
        "id": drive_id("Day2"),
        "files": day2_files,
        "folders": [beach] if version == 2 else [],
    }
    return {
        "name": "Trip",
        "files": [file("a.jpg"), file("b.jpg"), {"name": "notes.txt", "size": 100}],
        "folders": [day1, day2, {"name": "Empty", "id": drive_id("Empty")}],
    }


def file(name: str) -> dict[str, Any]:
    return {"name": name, "id": drive_id("File" + name.replace(".", "")), "size": 1500}


def drive_spec(version: int) -> dict[str, Any]:
    return {"folders": [trip(version)]}


@pytest.fixture(scope="module")
def drive() -> Iterator[EmulatorServer]:
    """A Drive of this module's own, whose folders the tests reorganise between runs."""
    with EmulatorServer(DriveFixture(drive_spec(1))) as server:
        yield server


async def albums_by_path(api: AsyncTestClient[Any]) -> dict[str, dict[str, Any]]:
    response = await api.get("/albums", params={"limit": 500})
    assert response.status_code == 200, response.text
    return {album["path"]: album for album in response.json()["items"]}


async def names_in(api: AsyncTestClient[Any], album_id: str, **params: Any) -> list[str]:
    return sorted(image["name"] for image in await all_images(api, album_id=album_id, **params))


async def test_a_nested_folder_becomes_albums_with_their_parents_paths_counts_and_images(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    stack.drive.replace_fixture(DriveFixture(drive_spec(1)))
    response = await api.post("/imports", json={"url": stack.drive.fixture.link("Trip")})
    assert response.status_code == 202, response.text
    done = await wait_for_import(api, response.json()["import_id"])
    assert done["status"] == "completed"
    assert done["counts"]["imported"] == 6

    albums = await albums_by_path(api)
    assert list(albums) == [
        "Trip",
        "Trip/Day 1",
        "Trip/Day 1/Beach",
        "Trip/Day 2",
        "Trip/Empty",
    ]
    top, day1, beach, day2, empty = albums.values()
    assert top["parent_id"] is None
    assert top["source_folder_id"] == stack.drive.fixture.folder_id("Trip")
    assert (day1["parent_id"], beach["parent_id"], day2["parent_id"]) == (
        top["id"],
        day1["id"],
        top["id"],
    )
    assert [a["name"] for a in albums.values()] == ["Trip", "Day 1", "Beach", "Day 2", "Empty"]
    # The text file is skipped: it is in no album.
    assert [a["image_count"] for a in albums.values()] == [2, 2, 1, 1, 0]
    assert [a["album_count"] for a in albums.values()] == [3, 1, 0, 0, 0]
    # The emulator's bytes only look like images: no thumbnail, so no cover.
    assert all(a["cover_image_id"] is None for a in albums.values())

    assert await names_in(api, top["id"]) == ["a.jpg", "b.jpg"]
    assert await names_in(api, day1["id"]) == ["c.jpg", "d.jpg"]
    assert await names_in(api, day1["id"], include_subalbums="true") == ["c.jpg", "d.jpg", "e.jpg"]
    assert len(await names_in(api, top["id"], include_subalbums="true")) == 6
    assert await names_in(api, empty["id"]) == []
    for image in await all_images(api, album_id=beach["id"]):
        assert image["album_id"] == beach["id"]

    page = (await api.get(f"/albums/{beach['id']}")).json()
    assert [crumb["name"] for crumb in page["breadcrumbs"]] == ["Trip", "Day 1"]
    assert [image["name"] for image in page["images"]["items"]] == ["e.jpg"]
    trail = (await api.get(f"/albums/{top['id']}")).json()
    assert trail["breadcrumbs"] == []
    assert [a["name"] for a in trail["subalbums"]] == ["Day 1", "Day 2", "Empty"]


async def test_a_sync_after_folders_are_renamed_and_moved_keeps_each_album_and_follows_them(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    stack.drive.replace_fixture(DriveFixture(drive_spec(1)))
    response = await api.post(
        "/syncs", json={"url": stack.drive.fixture.link("Trip"), "every": "1h"}
    )
    assert response.status_code == 201, response.text
    sync = response.json()
    await wait_for_import(api, sync["last_run"]["import_id"])
    before = await albums_by_path(api)
    images_before = {image["name"]: image for image in await all_images(api)}

    stack.drive.replace_fixture(DriveFixture(drive_spec(2)))
    try:
        run = await api.post(f"/syncs/{sync['sync_id']}/run")
        assert run.status_code == 202, run.text
        second = await wait_for_import(api, run.json()["import_id"])
    finally:
        stack.drive.replace_fixture(DriveFixture(drive_spec(1)))

    assert second["status"] == "completed"
    # Same ids and bytes: nothing moved to the store, nothing removed.
    assert second["bytes_imported"] == 0
    assert (second["counts"]["unchanged"], second["counts"]["removed"]) == (6, 0)
    after = await albums_by_path(api)
    assert list(after) == [
        "Trip",
        "Trip/Day 2",
        "Trip/Day 2/Beach",
        "Trip/Empty",
        "Trip/First day",
    ]
    assert after["Trip/First day"]["id"] == before["Trip/Day 1"]["id"]
    assert after["Trip/First day"]["name"] == "First day"
    assert after["Trip/Day 2/Beach"]["id"] == before["Trip/Day 1/Beach"]["id"]
    assert after["Trip/Day 2/Beach"]["parent_id"] == before["Trip/Day 2"]["id"]
    assert {path: a["image_count"] for path, a in after.items()} == {
        "Trip": 2,
        "Trip/Day 2": 2,
        "Trip/Day 2/Beach": 1,
        "Trip/Empty": 0,
        "Trip/First day": 1,
    }
    # The file moved at the source is the same image, now in its new folder's album.
    moved = {image["name"]: image for image in await all_images(api)}["c.jpg"]
    assert moved["id"] == images_before["c.jpg"]["id"]
    assert moved["album_id"] == before["Trip/Day 2"]["id"]
    assert await names_in(api, before["Trip/Day 2"]["id"]) == ["c.jpg", "f.jpg"]

    beach = (await api.get(f"/albums/{before['Trip/Day 1/Beach']['id']}")).json()
    assert [crumb["name"] for crumb in beach["breadcrumbs"]] == ["Trip", "Day 2"]
