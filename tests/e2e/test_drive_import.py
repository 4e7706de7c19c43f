"""A Google Drive folder imported end to end: API → Procrastinate → worker → S3 and Postgres."""

from typing import Any

import httpx
from litestar.testing import AsyncTestClient

from tests.conftest import Stack
from tests.helpers import all_images, start_import, wait_for_import


async def test_a_thousand_image_folder_imports_completely_and_byte_exact(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    expected = {f.id: f for f in fixture.expected_images("thousand")}
    assert len(expected) == 1000

    import_id = await start_import(api, fixture.link("thousand"))
    result = await wait_for_import(api, import_id, timeout=300)

    assert result["status"] == "completed"
    assert result["counts"] == {
        "discovered": 1000,
        "imported": 1000,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
        "removed": 0,
        "settled": 1000,
        "waiting_for_quota": 0,
    }
    assert result["bytes_imported"] == sum(f.size for f in expected.values())

    images = await all_images(api, limit=137)
    assert len(images) == 1000
    assert {image["google_drive_id"] for image in images} == set(expected)
    for image in images:
        source = expected[image["google_drive_id"]]
        assert (image["name"], image["size"], image["mime_type"]) == (
            source.name,
            source.size,
            source.mime_type,
        )
        assert image["md5_checksum"] == source.md5
        assert image["storage_path"] == f"s3://{stack.bucket}/content/{source.sha256}"

    objects = stack.objects()
    assert len(objects) == 1000
    assert objects == {f"content/{f.sha256}": f.size for f in expected.values()}
    for source in list(expected.values())[::97]:
        assert stack.read_object(f"content/{source.sha256}") == source.read()


async def test_download_url_serves_the_image_bytes(api: AsyncTestClient[Any], stack: Stack) -> None:
    fixture = stack.drive.fixture
    import_id = await start_import(api, fixture.link("downloads"))
    await wait_for_import(api, import_id)
    page = (await api.get("/images", params={"import_id": import_id, "limit": 1})).json()
    image = page["items"][0]
    async with httpx.AsyncClient() as http:
        download = await http.get(image["url"])
    assert download.status_code == 200
    assert download.content == fixture.read_bytes(image["google_drive_id"])


async def test_non_images_are_skipped_and_subfolders_are_imported(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    import_id = await start_import(api, fixture.link("mixed"))
    result = await wait_for_import(api, import_id)

    expected = {f.id for f in fixture.expected_images("mixed")}
    assert len(expected) == 8  # 5 png + big.jpg + 2 nested gifs
    assert result["status"] == "completed"
    assert result["counts"] == {
        "discovered": 10,
        "imported": 8,
        "unchanged": 0,
        "skipped": 2,
        "failed": 0,
        "removed": 0,
        "settled": 10,
        "waiting_for_quota": 0,
    }
    images = await all_images(api, import_id=import_id)
    assert {image["google_drive_id"] for image in images} == expected
    with stack.db() as db:
        reasons = db.execute(
            "SELECT name, reason FROM import_files WHERE import_id = %s AND state = 'skipped'"
            " ORDER BY name",
            (import_id,),
        ).fetchall()
    assert reasons == [
        (
            "Trip plan",
            "Google-native file (application/vnd.google-apps.document) has no downloadable bytes",
        ),
        ("notes.txt", "not an image (text/plain)"),
    ]


async def test_a_file_whose_bytes_are_no_image_is_skipped_whatever_its_name_says(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    import_id = await start_import(api, fixture.link("disguised"))
    result = await wait_for_import(api, import_id)

    assert result["status"] == "completed"
    assert result["counts"] == {
        "discovered": 3,
        "imported": 2,
        "unchanged": 0,
        "skipped": 1,
        "failed": 0,
        "removed": 0,
        "settled": 3,
        "waiting_for_quota": 0,
    }
    images = await all_images(api, import_id=import_id)
    assert sorted(image["name"] for image in images) == ["real_1.jpg", "real_2.jpg"]
    with stack.db() as db:
        skipped = db.execute(
            "SELECT name, reason FROM import_files WHERE import_id = %s AND state = 'skipped'",
            (import_id,),
        ).fetchall()
    assert skipped == [
        (
            "scan.jpg",
            "not an image: its bytes are application/pdf, though the source lists it as image/jpeg",
        )
    ]
    scan = fixture.checksums(fixture.id_of("disguised/scan.jpg")).sha256
    assert f"content/{scan}" not in stack.objects()


async def test_subfolders_are_left_out_when_not_recursive(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    import_id = await start_import(api, fixture.link("mixed_flat"), recursive=False)
    result = await wait_for_import(api, import_id)
    assert result["counts"]["imported"] == 6
    assert len(fixture.expected_images("mixed_flat", recursive=False)) == 6


async def test_an_empty_folder_completes_with_nothing_imported(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    import_id = await start_import(api, stack.drive.fixture.link("empty"))
    result = await wait_for_import(api, import_id)
    assert result["status"] == "completed"
    assert result["counts"] == {
        "discovered": 0,
        "imported": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
        "removed": 0,
        "settled": 0,
        "waiting_for_quota": 0,
    }


async def test_a_folder_that_does_not_exist_fails_the_import_with_a_clear_message(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    missing = "1MissingMissingMissingMissingMiss"
    import_id = await start_import(api, f"https://drive.google.com/drive/folders/{missing}")
    result = await wait_for_import(api, import_id)
    assert result["status"] == "failed"
    assert "not found or is not shared publicly" in result["error"]
