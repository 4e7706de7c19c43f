"""The caps a public deployment sets on imports, enforced by the real worker: an image over
MAX_FILE_BYTES is skipped when its size is listed and fails when only its download shows it, an
import that would pass MAX_FILES_PER_IMPORT or MAX_IMPORT_BYTES stops listing and fails naming
the cap. (MAX_ACTIVE_IMPORTS, the line of imports waiting their turn: test_import_line.py.)

Dropbox announces sizes when listing; Drive without an API key does not (its web pages give
none), so this module's worker reads Drive that way. Both emulators carry this module's own
folders, sized for its caps.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from emulators.dropbox import DropboxEmulatorServer, DropboxFixture
from emulators.google_drive import DriveFixture, EmulatorServer
from tests.conftest import Stack
from tests.dropbox_fixtures import start_dropbox_import
from tests.helpers import all_images, start_import, wait_for_import

MAX_FILE_BYTES = 1_000_000
MAX_FILES_PER_IMPORT = 20
MAX_IMPORT_BYTES = 3_000_000

WORKER_ENV = {
    "GOOGLE_API_KEY": "",
    "MAX_FILE_BYTES": str(MAX_FILE_BYTES),
    "MAX_FILES_PER_IMPORT": str(MAX_FILES_PER_IMPORT),
    "MAX_IMPORT_BYTES": str(MAX_IMPORT_BYTES),
    # Pages of 8 files, so a folder's files add up over several listing transactions.
    "LISTING_PAGE_SIZE": "8",
    "SOURCE_REQUESTS_PER_SECOND": "400",
}

CAPS_DRIVE_SPEC: dict[str, Any] = {
    "seed": 41,
    "folders": [
        {
            "name": "unsized huge",
            "files": [
                {"name_pattern": "small_{i}.jpg", "count": 3, "size": 2000},
                {"name": "huge.jpg", "size": 3_000_000},
            ],
        }
    ],
}

CAPS_DROPBOX_SPEC: dict[str, Any] = {
    "seed": 43,
    "folders": [
        {
            "name": "sized huge",
            "files": [
                {"name_pattern": "photo_{i}.jpg", "count": 3, "size": 2000},
                {"name": "huge.png", "size": 2_000_000},
                {"name": "notes.txt", "size": 100},
            ],
        },
        # 30 files over pages of 8: the fourth page would make 32.
        {"name": "many", "files": [{"name_pattern": "m_{i:03d}.jpg", "count": 30, "size": 500}]},
        # 1.8 MB in the folder, 1.8 MB more in its subfolder: each file and each folder fits,
        # the two together do not.
        {
            "name": "heavy",
            "files": [{"name_pattern": "h_{i}.jpg", "count": 2, "size": 900_000}],
            "folders": [
                {
                    "name": "more",
                    "files": [{"name_pattern": "hm_{i}.jpg", "count": 2, "size": 900_000}],
                }
            ],
        },
        {"name": "ordinary", "files": [{"name_pattern": "o_{i}.jpg", "count": 3, "size": 1500}]},
    ],
}


@pytest.fixture(scope="module")
def drive() -> Iterator[EmulatorServer]:
    with EmulatorServer(DriveFixture(CAPS_DRIVE_SPEC)) as server:
        yield server


@pytest.fixture(scope="module")
def dropbox() -> Iterator[DropboxEmulatorServer]:
    with DropboxEmulatorServer(DropboxFixture(CAPS_DROPBOX_SPEC)) as server:
        yield server


def file_rows(stack: Stack, import_id: str) -> dict[str, tuple[str, str | None]]:
    """name → (state, reason) of every file the import recorded."""
    with stack.db() as db:
        rows = db.execute(
            "SELECT name, state, reason FROM import_files WHERE import_id = %s", (import_id,)
        ).fetchall()
    return {name: (state, reason) for name, state, reason in rows}


async def test_an_image_over_max_file_bytes_is_skipped_when_listed_with_its_size(
    api: AsyncTestClient[Any], stack: Stack, dropbox: DropboxEmulatorServer
) -> None:
    import_id = await start_dropbox_import(api, dropbox.fixture.link("sized huge"))
    result = await wait_for_import(api, import_id)

    assert result["status"] == "completed", result
    assert result["counts"] == {
        "discovered": 5,
        "imported": 3,
        "unchanged": 0,
        "skipped": 2,
        "failed": 0,
        "removed": 0,
        "settled": 5,
        "waiting_for_quota": 0,
    }
    state, reason = file_rows(stack, import_id)["huge.png"]
    assert state == "skipped"
    assert reason == (
        "larger than the 1,000,000 bytes one file may have (MAX_FILE_BYTES): 2,000,000 bytes"
    )
    images = await all_images(api, import_id=import_id)
    assert sorted(image["name"] for image in images) == [
        "photo_1.jpg",
        "photo_2.jpg",
        "photo_3.jpg",
    ]


async def test_an_image_of_unknown_size_fails_for_good_once_its_download_passes_the_cap(
    api: AsyncTestClient[Any], stack: Stack, drive: EmulatorServer
) -> None:
    import_id = await start_import(api, drive.fixture.link("unsized huge"))
    result = await wait_for_import(api, import_id)

    assert result["status"] == "completed_with_errors", result
    assert (result["counts"]["imported"], result["counts"]["failed"]) == (3, 1)
    failures = (await api.get(f"/imports/{import_id}/failures")).json()["items"]
    assert [(f["name"], f["attempts"]) for f in failures] == [("huge.jpg", 1)]
    assert failures[0]["reason"] == (
        "larger than the 1,000,000 bytes one file may have (MAX_FILE_BYTES): "
        "its download went past that"
    )
    huge = drive.fixture.id_of("unsized huge/huge.jpg")
    assert f"content/{drive.fixture.checksums(huge).sha256}" not in stack.objects("content/")


async def test_an_import_that_would_pass_max_files_per_import_stops_listing_and_fails(
    api: AsyncTestClient[Any], stack: Stack, dropbox: DropboxEmulatorServer
) -> None:
    import_id = await start_dropbox_import(api, dropbox.fixture.link("many"))
    result = await wait_for_import(api, import_id)

    assert result["status"] == "failed", result
    assert result["error"] == (
        "stopped listing at 24 files: one import takes at most 20 (MAX_FILES_PER_IMPORT); "
        "import a smaller folder"
    )
    # The page that would have passed the cap recorded nothing.
    assert result["counts"]["discovered"] == len(file_rows(stack, import_id)) == 16


async def test_an_import_whose_images_would_pass_max_import_bytes_stops_listing_and_fails(
    api: AsyncTestClient[Any], stack: Stack, dropbox: DropboxEmulatorServer
) -> None:
    import_id = await start_dropbox_import(api, dropbox.fixture.link("heavy"))
    result = await wait_for_import(api, import_id)

    assert result["status"] == "failed", result
    assert result["error"] == (
        "stopped listing at 3,600,000 bytes of images: one import transfers at most "
        "3,000,000 (MAX_IMPORT_BYTES); import a smaller folder"
    )
    with stack.db() as db:
        row = db.execute(
            "SELECT discovered, bytes_discovered FROM imports WHERE id = %s", (import_id,)
        ).fetchone()
    assert row == (2, 1_800_000)
