"""A source added by the CONTRIBUTING.md checklist alone (a connector module and a registry
entry, named in SOURCE_PLUGINS; an emulator of its own) imports through the real stack: the API
routes, the pipeline, the worker and the schema take it without a change of their own."""

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import Stack
from tests.helpers import all_images, wait_for_import
from tests.plugins.album_emulator import AlbumFile, Albums, serve

PLUGIN = "tests.plugins.album_source:SPEC"
WORKER_ENV = {"SOURCE_PLUGINS": PLUGIN}
OPS_TOKEN = "new-source-ops-token"
API_SETTINGS = {"source_plugins": [PLUGIN], "ops_token": OPS_TOKEN}

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4


@pytest.fixture(scope="module")
def albums() -> Iterator[tuple[Albums, str]]:
    albums = Albums(
        {
            "summer": [
                AlbumFile("a1", "beach.jpg", "image/jpeg", JPEG),
                AlbumFile("a2", "notes.txt", "text/plain", b"not an image"),
                AlbumFile("a3", " Fête « été ».png", "image/png", PNG),
                AlbumFile("a4", "sunset.jpg", "image/jpeg", JPEG + b"sunset"),
            ],
            # A connector declaring a checksum no hasher is registered for: a bug of ours.
            "buggy": [AlbumFile("b1", "odd.jpg", "image/jpeg", JPEG, checksum="crc64nvme")],
        }
    )
    with serve(albums) as base_url:
        yield albums, base_url


async def test_a_plugin_source_is_listed_detected_and_imported_byte_exact(
    api: AsyncTestClient[Any], stack: Stack, albums: tuple[Albums, str]
) -> None:
    fixture, base_url = albums
    link = f"{base_url}/albums/summer"

    listed = (await api.get("/sources")).json()["items"]
    assert [source["name"] for source in listed] == [
        "google_drive",
        "dropbox",
        "public_s3",
        "nextcloud",
        "albums",
    ]
    detected = (await api.get("/sources/detect", params={"url": link})).json()
    assert (detected["source"], detected["display_name"]) == ("albums", "Albums")

    response = await api.post("/imports", json={"url": link})
    assert response.status_code == 202, response.text
    assert response.json()["source"] == "albums"
    result = await wait_for_import(api, response.json()["import_id"])

    assert result["status"] == "completed", result
    assert result["counts"] == {
        "discovered": 4,
        "imported": 3,
        "unchanged": 0,
        "skipped": 1,
        "failed": 0,
        "removed": 0,
        "settled": 4,
        "waiting_for_quota": 0,
    }
    images = await all_images(api, source="albums")
    assert sorted(image["name"] for image in images) == sorted(
        f.name for f in fixture.albums["summer"] if f.mime_type.startswith("image/")
    )
    for image in images:
        source_file = fixture.file(image["source_file_id"])
        assert source_file is not None
        key = image["storage_path"].removeprefix(f"s3://{stack.bucket}/")
        assert stack.read_object(key) == source_file.content

    # The alias routes keep their own source: an album link is not a Drive link.
    refused = await api.post("/import/google-drive", json={"url": link})
    assert refused.status_code == 422
    assert "not a Google Drive link" in refused.json()["detail"]


async def test_a_bug_fails_its_job_at_once_with_a_traceback_and_ends_the_import(
    api: AsyncTestClient[Any], stack: Stack, albums: tuple[Albums, str]
) -> None:
    _, base_url = albums
    response = await api.post("/imports", json={"url": f"{base_url}/albums/buggy"})
    assert response.status_code == 202, response.text
    import_id = response.json()["import_id"]
    result = await wait_for_import(api, import_id)

    assert result["status"] == "completed_with_errors", result
    [failure] = (await api.get(f"/imports/{import_id}/failures")).json()["items"]
    assert failure["reason"].startswith("internal error (a bug; see the worker's log)")
    assert "crc64nvme" in failure["reason"]
    assert failure["attempts"] == 1  # never retried as if the source had failed
    with stack.db() as db:
        [(job_id, status, attempts)] = db.execute(
            "SELECT id, status, attempts FROM procrastinate_jobs"
            " WHERE task_name = 'import.transfer_batch' AND args->>'import_id' = %s",
            (import_id,),
        ).fetchall()
    assert (status, attempts) == ("failed", 1)
    log = stack.worker_log.read_text()
    assert "import.batch_bug" in log and "Traceback" in log and "LookupError" in log

    # The job keeps its error, for the operators' console (Procrastinate keeps no error text).
    job = await api.get(f"/ops/jobs/{job_id}", headers={"Authorization": f"Bearer {OPS_TOKEN}"})
    assert job.status_code == 200, job.text
    [last_error] = job.json()["failures"]
    assert last_error["attempt"] == 1
    assert last_error["outcome"] == "bug"
    assert last_error["error_class"] == "builtins.LookupError"
    assert "crc64nvme" in last_error["message"]
    # The whole task group's traceback, down to where the bug was raised.
    assert "Traceback (most recent call last):" in last_error["traceback"]
    assert "LookupError: no hasher is registered" in last_error["traceback"]
