"""The folder `make demo` serves, imported as a newcomer would: every image gets a thumbnail,
its dimensions and (where its format has EXIF) the date it was taken, and the import is listed
by the folder's name."""

import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image, ImageOps

from emulators.google_drive import DriveFixture, EmulatorServer
from emulators.google_drive.samples import SAMPLE_ROOT
from tests.conftest import Stack
from tests.helpers import all_images, start_import, wait_for_import
from tests.seeded_images import wait_for_derivatives

_DATE_TIME_ORIGINAL = 0x9003
_EXIF_IFD = 0x8769


@pytest.fixture(scope="module")
def drive() -> Iterator[EmulatorServer]:
    """The demo's Drive, as `make demo` serves it."""
    with EmulatorServer(DriveFixture.sample()) as server:
        yield server


def as_pillow_reads_it(data: bytes) -> tuple[tuple[int, int], datetime | None]:
    """The picture's size as displayed (EXIF orientation applied) and its EXIF capture time."""
    with Image.open(io.BytesIO(data)) as image:
        taken = image.getexif().get_ifd(_EXIF_IFD).get(_DATE_TIME_ORIGINAL)
        size = ImageOps.exif_transpose(image).size
    return size, None if taken is None else datetime.strptime(taken, "%Y:%m:%d %H:%M:%S")


async def test_the_demo_folder_imports_with_thumbnails_dimensions_and_dates(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    import_id = await start_import(api, fixture.link(SAMPLE_ROOT))
    result = await wait_for_import(api, import_id, timeout=180)
    # One awkward case fails for good, as on Drive: the file flagged as abusive, which Drive
    # serves to no one who does not acknowledge the risk.
    assert result["status"] == "completed_with_errors", result
    failures = (await api.get(f"/imports/{import_id}/failures")).json()["items"]
    assert [failure["name"] for failure in failures] == ["flagged.jpg"]

    images = await all_images(api, import_id=import_id)
    wait_for_derivatives(stack, [image["id"] for image in images])
    images = await all_images(api, import_id=import_id)

    expected = {
        file.id: file for file in fixture.expected_images(SAMPLE_ROOT, follow_shortcuts=True)
    }
    assert {image["google_drive_id"] for image in images} == set(expected)
    formats: set[str] = set()
    async with httpx.AsyncClient() as http:
        for image in images:
            source = expected[image["google_drive_id"]]
            size, taken_at = as_pillow_reads_it(source.read())
            assert image["thumbnail_status"] == "done", image
            assert (await http.get(image["thumbnail_url"])).status_code == 200
            assert (image["width"], image["height"]) == size, image["name"]
            formats.add(image["mime_type"])
            if image["mime_type"] == "image/gif":
                # GIF has no place for EXIF: no date to read.
                assert image["taken_at"] is None
                assert image["animated"] is True
            else:
                assert taken_at is not None, image["name"]
                assert datetime.fromisoformat(image["taken_at"]) == taken_at, image["name"]
                assert image["camera"], image["name"]
    assert formats == {"image/jpeg", "image/png", "image/webp", "image/gif", "image/heic"}
    turned = [image for image in images if image["name"] == "sunset.jpg"]
    assert [(image["width"], image["height"]) for image in turned] == [(360, 480)]


async def test_the_import_is_listed_by_its_folder_name(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    import_id = await start_import(api, fixture.link([SAMPLE_ROOT, "Favourites"]))
    imported = await wait_for_import(api, import_id)
    assert imported["folder_name"] == "Favourites"

    listed = (await api.get("/imports")).json()["items"]
    names = {item["import_id"]: item["folder_name"] for item in listed}
    assert names[import_id] == "Favourites"


async def test_the_demo_folders_are_albums_with_covers_made_from_their_thumbnails(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    import_id = await start_import(api, stack.drive.fixture.link(SAMPLE_ROOT))
    await wait_for_import(api, import_id, timeout=180)
    wait_for_derivatives(stack, [image["id"] for image in await all_images(api)])

    albums = (await api.get("/albums", params={"limit": 500})).json()["items"]
    top = [album for album in albums if album["path"] == SAMPLE_ROOT]
    assert len(top) == 1 and top[0]["album_count"] > 0
    with_images = [album for album in albums if album["image_count"]]
    assert len(with_images) > 1
    async with httpx.AsyncClient() as http:
        for album in with_images:
            own = await all_images(api, album_id=album["id"])
            assert len(own) == album["image_count"], album["path"]
            first_by_name = min(own, key=lambda image: (image["name"], image["id"]))
            assert album["cover_image_id"] == first_by_name["id"], album["path"]
            assert (await http.get(album["cover_thumbnail_url"])).status_code == 200
