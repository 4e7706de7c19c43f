"""Nextcloud / ownCloud / oCIS public shares imported end to end: API → Procrastinate → worker
→ S3 and Postgres, against the Nextcloud emulator (on 127.0.0.1, which NEXTCLOUD_ALLOWED_NETWORKS
lets both the API and the worker reach)."""

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from emulators.nextcloud import NextcloudEmulatorServer, NextcloudFixture
from tests.conftest import Stack
from tests.helpers import all_images, wait_for_import

ALLOWED = "127.0.0.0/8"
WORKER_ENV = {
    "NEXTCLOUD_ALLOWED_NETWORKS": ALLOWED,
    "LISTING_PAGE_SIZE": "50",
    "SOURCE_REQUESTS_PER_SECOND": "400",
}
# Syncs here run when asked, every second at most.
API_SETTINGS = {"sync_min_interval_seconds": 1}
PASSWORD = "open sesame"


def spec(version: int = 1) -> dict[str, Any]:
    changing = [
        {"name": "kept.jpg", "size": 1500, "checksums": ["SHA1", "MD5"]},
        {"name": "changed.jpg", "size": 2000 if version == 1 else 2600, "checksums": ["MD5"]},
    ]
    if version == 1:
        changing.append({"name": "gone.png", "size": 1800, "checksums": ["SHA256"]})
    else:
        changing.append({"name": "new.gif", "size": 1600, "checksums": ["MD5"]})
    return {
        "seed": 24,
        "shares": [
            {
                "name": "holiday",
                "files": [
                    {"name_pattern": "IMG_{i:03d}.jpg", "count": 120, "size": [300, 2000]},
                    {"name_pattern": "sum_{i:02d}.png", "count": 10, "checksums": ["SHA1"]},
                    {"name": "Fête à Noël 🎄.jpg", "size": 700},
                    {"name": "notes.txt", "size": 200},
                ],
                "folders": [
                    {
                        "name": "2024 Summer",
                        "files": [{"name_pattern": "s_{i:02d}.webp", "count": 30}],
                        "folders": [{"name": "deep", "files": [{"name": "d.png"}]}],
                    }
                ],
            },
            {"name": "locked", "password": PASSWORD, "files": [{"name": "s.jpg"}]},
            {"name": "synced", "files": changing},
        ],
    }


HOLIDAY_IMAGES = 120 + 10 + 1 + 30 + 1


@pytest.fixture(scope="module")
def nextcloud() -> Iterator[NextcloudEmulatorServer]:
    with NextcloudEmulatorServer(NextcloudFixture(spec())) as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def api_allows_the_emulator() -> Iterator[None]:
    # The in-process API reads the source's settings from the environment, as in production.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NEXTCLOUD_ALLOWED_NETWORKS", ALLOWED)
        yield


async def start(api: AsyncTestClient[Any], url: str, **body: Any) -> str:
    response = await api.post("/imports", json={"url": url, **body})
    assert response.status_code == 202, response.text
    assert response.json()["source"] == "nextcloud"
    import_id: str = response.json()["import_id"]
    return import_id


async def test_a_nested_share_imports_byte_exact_and_its_checksums_make_a_reimport_free(
    api: AsyncTestClient[Any], stack: Stack, nextcloud: NextcloudEmulatorServer
) -> None:
    listed = (await api.get("/sources")).json()["items"]
    assert "nextcloud" in [source["name"] for source in listed]

    result = await wait_for_import(api, await start(api, nextcloud.link("holiday")), timeout=300)

    assert result["status"] == "completed", result
    assert result["counts"]["imported"] == HOLIDAY_IMAGES
    assert result["counts"]["skipped"] == 1  # notes.txt
    assert result["notes"]  # what a share without checksums means for re-imports
    fixture = nextcloud.fixture
    expected = {
        item.relative_path.rsplit("/", 1)[1]: item for item in fixture.expected_images("holiday")
    }
    images = await all_images(api, import_id=result["import_id"], limit=500)
    assert len(images) == HOLIDAY_IMAGES
    for image in images[::7]:
        item = expected[image["name"]]
        assert image["source"] == "nextcloud"
        assert image["md5_checksum"] == fixture.md5(item)
        key = image["storage_path"].split("/", 3)[3]
        assert stack.read_object(key) == fixture.read_bytes(item)

    # Again, by the /index.php/ form of the same link: every file is unchanged, those the
    # server holds checksums for by them, the others by their size and ETag. No byte moves.
    again = await wait_for_import(
        api, await start(api, nextcloud.link("holiday", index_php=True)), timeout=300
    )
    assert again["status"] == "completed", again
    assert again["counts"]["unchanged"] == HOLIDAY_IMAGES
    assert (again["counts"]["imported"], again["bytes_imported"]) == (0, 0)


async def test_a_new_etag_moves_the_files_no_checksum_vouches_for(
    api: AsyncTestClient[Any], stack: Stack, nextcloud: NextcloudEmulatorServer
) -> None:
    # The share the test above imported, every file edited since (new ETags, same sizes): the
    # ten with checksums are still known by them, the others move again.
    nextcloud.fixture.generation += 1
    try:
        result = await wait_for_import(
            api, await start(api, nextcloud.link("holiday")), timeout=300
        )
    finally:
        nextcloud.fixture.generation -= 1
    assert result["status"] == "completed", result
    assert result["counts"]["unchanged"] == 10
    assert result["counts"]["imported"] == HOLIDAY_IMAGES - 10


async def test_a_password_protected_share_imports_with_its_password_only(
    api: AsyncTestClient[Any], stack: Stack, nextcloud: NextcloudEmulatorServer
) -> None:
    link = nextcloud.link("locked")
    refused = await wait_for_import(api, await start(api, link, password="guess"))
    assert refused["status"] == "failed"
    assert "password" in refused["error"]

    result = await wait_for_import(api, await start(api, link, password=PASSWORD))
    assert result["status"] == "completed", result
    assert result["counts"]["imported"] == 1


async def test_a_link_to_an_address_the_policy_refuses_is_refused_when_submitted(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    response = await api.post("/imports", json={"url": "http://169.254.169.254/s/tok"})
    assert response.status_code == 422
    assert "cloud metadata address" in response.json()["detail"]


async def test_a_sync_moves_only_changed_bytes_and_marks_the_gone_file_removed(
    api: AsyncTestClient[Any], stack: Stack, nextcloud: NextcloudEmulatorServer
) -> None:
    response = await api.post("/syncs", json={"url": nextcloud.link("synced"), "every": "1h"})
    assert response.status_code == 201, response.text
    sync = response.json()
    first = await wait_for_import(api, sync["last_run"]["import_id"])
    assert first["counts"]["imported"] == 3

    nextcloud.replace_fixture(NextcloudFixture(spec(version=2)))
    try:
        run = await api.post(f"/syncs/{sync['sync_id']}/run")
        assert run.status_code == 202, run.text
        second = await wait_for_import(api, run.json()["import_id"])
    finally:
        nextcloud.replace_fixture(NextcloudFixture(spec()))

    assert second["status"] == "completed", second
    counts = second["counts"]
    assert (counts["imported"], counts["unchanged"], counts["removed"]) == (2, 1, 1)
    removed = await all_images(api, removed="true")
    assert [image["name"] for image in removed] == ["gone.png"]
