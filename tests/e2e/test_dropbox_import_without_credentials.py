"""Without Dropbox credentials the worker imports a shared folder from the zip Dropbox's web link
downloads (dl=1), end to end."""

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from emulators.dropbox import DropboxEmulatorServer, FaultRule
from tests.conftest import Stack
from tests.dropbox_fixtures import (
    LINK_PASSWORD,
    NESTED_IMAGES,
    NESTED_SKIPPED,
    UNICODE_NAMES,
    start_dropbox_import,
)
from tests.helpers import all_images, wait_for_import

WORKER_ENV = {"DROPBOX_ACCESS_TOKEN": "", "LISTING_PAGE_SIZE": "128"}


def key_of(image: dict[str, Any]) -> str:
    return str(image["storage_path"]).split("/", 3)[3]


async def test_a_nested_folder_of_a_thousand_images_imports_byte_exact_from_the_zip(
    api: AsyncTestClient[Any], stack: Stack, dropbox: DropboxEmulatorServer
) -> None:
    fixture = dropbox.fixture
    expected = {image.path: image for image in fixture.expected_images("nested")}
    assert len(expected) == NESTED_IMAGES > 1000
    zips_before = dropbox.stats.zip_downloads

    import_id = await start_dropbox_import(api, fixture.link("nested"))
    result = await wait_for_import(api, import_id, timeout=300)

    assert result["status"] == "completed", result
    assert "without Dropbox credentials" in result["notes"]
    assert "10,000 files" in result["notes"]
    # The cloud document is not in the zip at all: only the two other non-images are skipped.
    assert result["counts"] == {
        "discovered": NESTED_IMAGES + NESTED_SKIPPED - 1,
        "imported": NESTED_IMAGES,
        "unchanged": 0,
        "skipped": NESTED_SKIPPED - 1,
        "failed": 0,
        "removed": 0,
        "settled": NESTED_IMAGES + NESTED_SKIPPED - 1,
        "waiting_for_quota": 0,
    }
    assert result["bytes_imported"] == sum(image.size for image in expected.values())
    # One look at the start of the zip to check the link, one whole download to list it; the
    # subfolders and the transfers read this worker's copy.
    assert dropbox.stats.zip_downloads - zips_before == 2

    with stack.db() as db:
        paths = dict(
            db.execute(
                "SELECT source_file_id, resource_key::jsonb->>'path' FROM import_files"
                " WHERE import_id = %s AND state = 'imported'",
                (import_id,),
            ).fetchall()
        )
    images = await all_images(api, import_id=import_id, limit=500)
    assert len(images) == NESTED_IMAGES
    objects = stack.objects()
    for image in images:
        source = expected[paths[image["source_file_id"]]]
        assert image["source"] == "dropbox"
        assert image["source_file_id"].startswith("zip:")
        assert image["google_drive_id"] is None
        assert (image["name"], image["size"], image["md5_checksum"]) == (
            source.name,
            source.size,
            source.md5,
        )
        assert objects[key_of(image)] == source.size
    by_name = {image["name"]: image for image in images}
    for name in [*UNICODE_NAMES, "panorama.png", "empty.png", "j_01.jpg", "s_250.webp"]:
        source = expected[paths[by_name[name]["source_file_id"]]]
        assert stack.read_object(key_of(by_name[name])) == source.read()
    for image in images[::50]:
        assert stack.read_object(key_of(image)) == expected[paths[image["source_file_id"]]].read()


async def test_reimporting_from_the_zip_uploads_no_image_again(
    api: AsyncTestClient[Any], stack: Stack, dropbox: DropboxEmulatorServer
) -> None:
    link = dropbox.fixture.link("nested")
    first = await wait_for_import(api, await start_dropbox_import(api, link), timeout=300)
    zips_before = dropbox.stats.zip_downloads
    objects_before = stack.objects()

    again = await wait_for_import(api, await start_dropbox_import(api, link), timeout=300)

    assert again["status"] == "completed", again
    assert again["counts"]["imported"] == 0
    assert (
        again["counts"]["unchanged"] == first["counts"]["imported"] + first["counts"]["unchanged"]
    )
    assert again["bytes_imported"] == 0
    # The folder is downloaded again to list it (a re-import must see today's folder), but no
    # image goes to the store again.
    assert dropbox.stats.zip_downloads - zips_before == 2
    assert stack.objects() == objects_before


async def test_the_legacy_link_form_imports_from_the_zip_too(
    api: AsyncTestClient[Any], dropbox: DropboxEmulatorServer
) -> None:
    fixture = dropbox.fixture
    link = fixture.link("legacy", st="xyz", e="1")
    result = await wait_for_import(api, await start_dropbox_import(api, link))
    assert result["status"] == "completed", result
    assert result["counts"]["imported"] == len(fixture.expected_images("legacy")) == 5


async def test_a_password_protected_link_fails_saying_it_needs_credentials(
    api: AsyncTestClient[Any], dropbox: DropboxEmulatorServer
) -> None:
    link = dropbox.fixture.link("protected")
    result = await wait_for_import(
        api, await start_dropbox_import(api, link, password=LINK_PASSWORD)
    )
    assert result["status"] == "failed"
    assert "has a password" in result["error"]
    assert "DROPBOX_ACCESS_TOKEN" in result["error"]


async def test_an_unknown_link_fails_the_import_saying_so(api: AsyncTestClient[Any]) -> None:
    link = "https://www.dropbox.com/sh/nosuchlink00000/AAAAAAAAAAAAAAAAAAAAAAAAAA?dl=0"
    result = await wait_for_import(api, await start_dropbox_import(api, link))
    assert result["status"] == "failed"
    assert "Dropbox does not know this shared link" in result["error"]


@pytest.fixture
def small_zip_limit(dropbox: DropboxEmulatorServer) -> Iterator[None]:
    before = dropbox.settings.zip_max_files
    dropbox.settings.update({"zip_max_files": 20})
    try:
        yield
    finally:
        dropbox.settings.update({"zip_max_files": before})


async def test_a_folder_over_dropbox_zip_limits_fails_saying_why(
    api: AsyncTestClient[Any], dropbox: DropboxEmulatorServer, small_zip_limit: None
) -> None:
    result = await wait_for_import(
        api, await start_dropbox_import(api, dropbox.fixture.link("too big"))
    )
    assert result["status"] == "failed"
    assert "instead of a zip" in result["error"]
    assert "Dropbox - Too large" in result["error"]


@pytest.fixture
def faulty_zip_downloads(dropbox: DropboxEmulatorServer) -> Iterator[None]:
    dropbox.stats.reset()
    # The first zip request only checks the link (it reads the first bytes and hangs up); the
    # second, the listing's download, gets a 503, and its retry is cut off half-way.
    dropbox.set_faults(
        FaultRule("too_many_requests", routes={"web"}, every=1, limit=1, retry_after=1),
        FaultRule("service_unavailable", routes={"zip"}, every=1, skip=1, limit=1),
        FaultRule("cut_body", routes={"zip"}, every=1, skip=2, limit=1, cut_at=0.5),
        seed=2,
    )
    try:
        yield
    finally:
        dropbox.set_faults()


async def test_rate_limits_5xx_and_a_cut_zip_are_retried_and_end_byte_exact(
    api: AsyncTestClient[Any],
    stack: Stack,
    dropbox: DropboxEmulatorServer,
    faulty_zip_downloads: None,
) -> None:
    fixture = dropbox.fixture
    expected = {image.name: image for image in fixture.expected_images("limited")}
    result = await wait_for_import(
        api, await start_dropbox_import(api, fixture.link("limited")), timeout=120
    )

    assert result["status"] == "completed", result
    assert result["counts"]["imported"] == len(expected) == 120
    assert dropbox.stats.faults_injected == {
        "too_many_requests": 1,
        "service_unavailable": 1,
        "cut_body": 1,
    }
    for image in await all_images(api, import_id=result["import_id"], limit=500):
        assert stack.read_object(key_of(image)) == expected[image["name"]].read()
