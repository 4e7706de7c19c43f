"""A Dropbox shared folder imported end to end through the Dropbox API (with a token): API →
Procrastinate → worker → S3 and Postgres, against the Dropbox emulator."""

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
from tests.helpers import all_images, start_import, wait_for_import

# Small listing pages, so the folders are read over many cursors (and short and empty pages).
WORKER_ENV = {"LISTING_PAGE_SIZE": "128", "SOURCE_REQUESTS_PER_SECOND": "400"}


def key_of(image: dict[str, Any]) -> str:
    return str(image["storage_path"]).split("/", 3)[3]


async def test_a_nested_folder_of_a_thousand_images_imports_byte_exact(
    api: AsyncTestClient[Any], stack: Stack, dropbox: DropboxEmulatorServer
) -> None:
    fixture = dropbox.fixture
    expected = {image.id: image for image in fixture.expected_images("nested")}
    assert len(expected) == NESTED_IMAGES > 1000

    import_id = await start_dropbox_import(api, fixture.link("nested"))
    result = await wait_for_import(api, import_id, timeout=300)

    assert result["status"] == "completed", result
    assert result["source"] == "dropbox"
    assert result["notes"] is None
    assert result["counts"] == {
        "discovered": NESTED_IMAGES + NESTED_SKIPPED,
        "imported": NESTED_IMAGES,
        "unchanged": 0,
        "skipped": NESTED_SKIPPED,
        "failed": 0,
        "removed": 0,
        "settled": NESTED_IMAGES + NESTED_SKIPPED,
        "waiting_for_quota": 0,
    }
    assert result["bytes_imported"] == sum(image.size for image in expected.values())

    images = await all_images(api, import_id=import_id, limit=500)
    assert len(images) == NESTED_IMAGES
    assert {image["source_file_id"] for image in images} == set(expected)
    objects = stack.objects()
    for image in images:
        source = expected[image["source_file_id"]]
        assert image["source"] == "dropbox"
        assert image["google_drive_id"] is None
        assert (image["name"], image["size"]) == (source.name, source.size)
        assert image["md5_checksum"] == source.md5
        assert objects[key_of(image)] == source.size
    by_name = {image["name"]: image for image in images}
    assert set(UNICODE_NAMES) <= set(by_name)
    for name in [*UNICODE_NAMES, "panorama.png", "empty.png", "j_01.jpg", "s_250.webp"]:
        source = expected[by_name[name]["source_file_id"]]
        assert stack.read_object(key_of(by_name[name])) == source.read()
    for image in images[::50]:
        assert stack.read_object(key_of(image)) == expected[image["source_file_id"]].read()

    with stack.db() as db:
        skipped = dict(
            db.execute(
                "SELECT name, reason FROM import_files WHERE import_id = %s AND state = 'skipped'",
                (import_id,),
            ).fetchall()
        )
        hashes = dict(
            db.execute(
                "SELECT source_file_id, checksums ->> 'dropbox_content_hash' FROM images"
                " WHERE import_id = %s",
                (import_id,),
            ).fetchall()
        )
        folders = db.execute(
            "SELECT count(*), sum(pages_listed) FROM import_folders WHERE import_id = %s",
            (import_id,),
        ).fetchone()
    assert skipped == {
        "README.txt": "not an image (text/plain)",
        "clip.mp4": "not an image (video/mp4)",
        "Trip plan.paper": "a Dropbox cloud document (not downloadable as a file)",
    }
    assert hashes == {file_id: image.content_hash for file_id, image in expected.items()}
    # The root and five subfolders, each its own listing; 1,000+ entries at 128 a page.
    assert folders is not None and folders[0] == 6 and folders[1] > 10


async def test_reimporting_the_folder_moves_no_image_bytes(
    api: AsyncTestClient[Any], stack: Stack, dropbox: DropboxEmulatorServer
) -> None:
    link = dropbox.fixture.link("nested")
    first = await wait_for_import(api, await start_dropbox_import(api, link), timeout=300)
    served_before = dropbox.stats.bytes_served
    downloads_before = dropbox.stats.requests["file"]

    again = await wait_for_import(api, await start_dropbox_import(api, link), timeout=300)

    assert again["status"] == "completed", again
    assert again["counts"]["imported"] == 0
    assert (
        again["counts"]["unchanged"] == first["counts"]["imported"] + first["counts"]["unchanged"]
    )
    assert again["bytes_imported"] == 0
    assert dropbox.stats.bytes_served == served_before
    assert dropbox.stats.requests["file"] == downloads_before


@pytest.mark.parametrize("suffix", ["?dl=0", "", "?dl=0&st=abc123xy&e=1", "?e=1"])
async def test_the_legacy_link_form_imports_with_any_of_its_parameters(
    api: AsyncTestClient[Any], stack: Stack, dropbox: DropboxEmulatorServer, suffix: str
) -> None:
    fixture = dropbox.fixture
    link = fixture.link("legacy").split("?")[0] + suffix
    assert "/sh/" in link
    result = await wait_for_import(api, await start_dropbox_import(api, link))
    assert result["status"] == "completed", result
    assert result["folder_id"].startswith("sh/")
    counts = result["counts"]
    assert counts["imported"] + counts["unchanged"] == len(fixture.expected_images("legacy")) == 5


async def test_source_filter_returns_only_that_sources_images(
    api: AsyncTestClient[Any], stack: Stack, dropbox: DropboxEmulatorServer
) -> None:
    drive_import = await start_import(api, stack.drive.fixture.link("mixed"))
    dropbox_import = await start_dropbox_import(api, dropbox.fixture.link("small"))
    await wait_for_import(api, drive_import)
    await wait_for_import(api, dropbox_import)
    with stack.db() as db:
        by_source = dict(
            db.execute("SELECT source, count(*) FROM images GROUP BY source").fetchall()
        )

    from_dropbox = await all_images(api, source="dropbox", limit=500)
    from_drive = await all_images(api, source="google_drive", limit=500)

    assert len(from_dropbox) == by_source["dropbox"]
    assert len(from_drive) == by_source["google_drive"] > 0
    assert {image["source"] for image in from_dropbox} == {"dropbox"}
    assert {image["source"] for image in from_drive} == {"google_drive"}
    assert all(image["google_drive_id"] is None for image in from_dropbox)
    assert all(image["google_drive_id"] == image["source_file_id"] for image in from_drive)
    small = {image.id for image in dropbox.fixture.expected_images("small")}
    assert small <= {image["source_file_id"] for image in from_dropbox}


async def test_a_password_protected_link_imports_with_its_password_only(
    api: AsyncTestClient[Any], dropbox: DropboxEmulatorServer
) -> None:
    link = dropbox.fixture.link("protected")
    without = await wait_for_import(api, await start_dropbox_import(api, link))
    wrong = await wait_for_import(api, await start_dropbox_import(api, link, password="nope"))
    right = await wait_for_import(
        api, await start_dropbox_import(api, link, password=LINK_PASSWORD)
    )

    for failed in (without, wrong):
        assert failed["status"] == "failed"
        assert "Dropbox denies access to this shared link" in failed["error"]
        assert "password" in failed["error"]
    assert right["status"] == "completed", right
    assert right["counts"]["imported"] == len(dropbox.fixture.expected_images("protected"))


async def test_an_unknown_link_fails_the_import_saying_so(api: AsyncTestClient[Any]) -> None:
    link = "https://www.dropbox.com/scl/fo/nosuchlink000000000000/AAAAAAAAAAAAAAAAAAAAAAA?rlkey=abc&dl=0"
    result = await wait_for_import(api, await start_dropbox_import(api, link))
    assert result["status"] == "failed"
    assert "Dropbox does not know this shared link" in result["error"]


@pytest.fixture
def token_revoked(dropbox: DropboxEmulatorServer) -> Iterator[None]:
    dropbox.settings.update({"accepted_tokens": ["some-other-token"]})
    try:
        yield
    finally:
        dropbox.settings.update({"accepted_tokens": None})


async def test_a_refused_token_fails_the_import_with_a_message_a_person_understands(
    api: AsyncTestClient[Any], dropbox: DropboxEmulatorServer, token_revoked: None
) -> None:
    result = await wait_for_import(
        api, await start_dropbox_import(api, dropbox.fixture.link("unauthorised"))
    )
    assert result["status"] == "failed"
    assert "Dropbox refused the credentials (invalid_access_token)" in result["error"]
    assert "DROPBOX_ACCESS_TOKEN" in result["error"]


@pytest.fixture
def faulty_dropbox(dropbox: DropboxEmulatorServer) -> Iterator[None]:
    # Every kind of rate limit and server error, bounded so no file sees one on every try.
    dropbox.stats.reset()
    dropbox.set_faults(
        FaultRule("too_many_write_operations", routes={"metadata"}, every=1, limit=1),
        FaultRule("too_many_requests_text", routes={"list"}, every=1, limit=1),
        FaultRule("too_many_requests", routes={"file"}, every=9, limit=6, retry_after=1),
        FaultRule("service_unavailable", routes={"file"}, every=11, limit=4),
        FaultRule("internal_error", routes={"file"}, every=13, limit=4),
        FaultRule("cut_body", routes={"file"}, every=7, limit=8),
        seed=5,
    )
    try:
        yield
    finally:
        dropbox.set_faults()


async def test_rate_limits_5xx_and_cut_downloads_are_retried_and_end_byte_exact(
    api: AsyncTestClient[Any], stack: Stack, dropbox: DropboxEmulatorServer, faulty_dropbox: None
) -> None:
    fixture = dropbox.fixture
    expected = {image.id: image for image in fixture.expected_images("limited")}
    result = await wait_for_import(
        api, await start_dropbox_import(api, fixture.link("limited")), timeout=300
    )

    assert result["status"] == "completed", result
    assert result["counts"]["imported"] == len(expected) == 120
    assert dropbox.stats.faults_injected == {
        "too_many_write_operations": 1,
        "too_many_requests_text": 1,
        "too_many_requests": 6,
        "service_unavailable": 4,
        "internal_error": 4,
        "cut_body": 8,
    }
    for image in await all_images(api, import_id=result["import_id"], limit=500):
        assert stack.read_object(key_of(image)) == expected[image["source_file_id"]].read()
