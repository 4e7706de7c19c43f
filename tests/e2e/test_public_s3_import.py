"""A public bucket imported end to end: API → Procrastinate → worker → S3 and Postgres, the
bucket served by the test S3 server itself (SeaweedFS), made public by a bucket policy as on
Amazon, and read by the worker without credentials."""

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from emulators.google_drive import DriveFixture
from emulators.public_s3 import seed_public_bucket, upload_in_parts
from tests.conftest import S3Server, Stack
from tests.helpers import all_images, wait_for_import

# Pages of 50 keys, so a folder is read over several continuation tokens; the test S3 server
# is on loopback, which the address policy refuses unless it is named.
ALLOWED = "127.0.0.0/8"
WORKER_ENV = {"LISTING_PAGE_SIZE": "50", "PUBLIC_S3_ALLOWED_NETWORKS": ALLOWED}
API_SETTINGS = {"sync_min_interval_seconds": 1}
PHOTOS = 120
NESTED = 7
BIG = "photos/panorama big.png"  # uploaded in parts: its ETag is no MD5


def bucket_spec() -> dict[str, Any]:
    return {
        "seed": 24,
        "folders": [
            {
                "name": "photos",
                "files": [
                    {"name_pattern": "IMG_{i:04d}.jpg", "count": PHOTOS, "size": [300, 3000]},
                    {"name": "notes.txt", "size": 200},
                    {"name": "Fête à Noël +1.jpg", "size": 700},
                    {"name": "panorama big.png", "size": 6 * 1024 * 1024},
                ],
                "folders": [
                    {
                        "name": "2024",
                        "files": [{"name_pattern": "s_{i:02d}.webp", "count": NESTED, "size": 900}],
                    }
                ],
            },
            {"name": "synced", "files": [{"name": n, "size": 800} for n in SYNCED]},
        ],
    }


SYNCED = ["kept.jpg", "changed.jpg", "gone.png"]


@dataclass
class Bucket:
    name: str
    fixture: DriveFixture
    s3: S3Server

    def link(self, prefix: str) -> str:
        return f"s3+{self.s3.endpoint_url}/{self.name}/{prefix}"


@pytest.fixture(scope="module")
def bucket(s3_server: S3Server) -> Iterator[Bucket]:
    name = f"public-{uuid.uuid4().hex[:10]}"
    fixture = DriveFixture(bucket_spec())
    seed_public_bucket(s3_server.client(), name, fixture, multipart={BIG})
    yield Bucket(name, fixture, s3_server)


@pytest.fixture(scope="module", autouse=True)
def api_allows_the_bucket() -> Iterator[None]:
    # The in-process API resolves the bucket's host too, reading the source's settings from
    # the environment, as in production.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PUBLIC_S3_ALLOWED_NETWORKS", ALLOWED)
        yield


def key_of(image: dict[str, Any]) -> str:
    return str(image["storage_path"]).split("/", 3)[3]


async def start(api: AsyncTestClient[Any], url: str, **options: Any) -> str:
    response = await api.post("/imports", json={"url": url, **options})
    assert response.status_code == 202, response.text
    import_id: str = response.json()["import_id"]
    return import_id


async def test_a_public_bucket_folder_imports_byte_exact_with_its_subfolders(
    api: AsyncTestClient[Any], stack: Stack, bucket: Bucket
) -> None:
    expected = {image.path: image for image in bucket.fixture.expected_images("photos")}
    assert len(expected) == PHOTOS + NESTED + 2

    import_id = await start(api, bucket.link("photos/"))
    result = await wait_for_import(api, import_id, timeout=180)

    assert result["status"] == "completed", result
    assert result["notes"] and "ETag" in result["notes"]
    assert result["counts"] == {
        "discovered": len(expected) + 1,
        "imported": len(expected),
        "unchanged": 0,
        "skipped": 1,
        "failed": 0,
        "removed": 0,
        "settled": len(expected) + 1,
        "waiting_for_quota": 0,
    }
    images = await all_images(api, import_id=import_id, limit=500)
    host = bucket.s3.endpoint_url.split("://", 1)[1]
    by_id = {image["source_file_id"]: image for image in images}
    assert set(by_id) == {f"{host}/{bucket.name}/photos/{path}" for path in expected}
    for path, source in expected.items():
        image = by_id[f"{host}/{bucket.name}/photos/{path}"]
        assert (image["source"], image["name"], image["size"]) == (
            "public_s3",
            source.name,
            source.size,
        )
        assert image["md5_checksum"] == source.md5
    for path in ("Fête à Noël +1.jpg", "panorama big.png", "2024/s_03.webp", "IMG_0001.jpg"):
        image = by_id[f"{host}/{bucket.name}/photos/{path}"]
        assert stack.read_object(key_of(image)) == expected[path].read()
    with stack.db() as db:
        rows = db.execute(
            "SELECT f.name, f.checksums, i.source_version FROM import_files f"
            " JOIN images i ON i.source = 'public_s3' AND i.source_file_id = f.source_file_id"
            " WHERE f.import_id = %s",
            (import_id,),
        ).fetchall()
    listed = {name: checksums for name, checksums, _ in rows}
    versions = {name: version for name, _, version in rows}
    # A single-part object's ETag is its MD5, and the transfer was checked against it; the
    # multipart one's is not, and no checksum was claimed for it. Both ETags are kept as the
    # objects' versions, as listed.
    assert listed["IMG_0001.jpg"] == {"md5": expected["IMG_0001.jpg"].md5}
    assert listed["panorama big.png"] == {}
    assert versions["IMG_0001.jpg"] == expected["IMG_0001.jpg"].md5
    assert versions["panorama big.png"].endswith("-2")


async def test_a_reimport_moves_no_bytes_and_an_object_written_again_moves_alone(
    api: AsyncTestClient[Any], stack: Stack, bucket: Bucket
) -> None:
    # The folder the test above imported, unchanged: the multipart object too, by its ETag.
    again = await wait_for_import(api, await start(api, bucket.link("photos/")))
    assert again["status"] == "completed", again
    assert again["counts"]["unchanged"] == PHOTOS + NESTED + 2
    assert (again["counts"]["imported"], again["bytes_imported"]) == (0, 0)

    # New bytes of the same size, in parts again: only the ETag tells, and it moves them.
    client = bucket.s3.client()
    old = client.get_object(Bucket=bucket.name, Key=BIG)
    body = old["Body"].read()
    new = body[:-1] + bytes([body[-1] ^ 0xFF])
    upload_in_parts(client, bucket.name, BIG, new)
    assert client.head_object(Bucket=bucket.name, Key=BIG)["ETag"] != old["ETag"]
    third = await wait_for_import(api, await start(api, bucket.link("photos/")))
    assert third["status"] == "completed", third
    assert third["counts"]["unchanged"] == PHOTOS + NESTED + 1
    assert (third["counts"]["imported"], third["bytes_imported"]) == (1, len(new))
    images = await all_images(api, import_id=third["import_id"], limit=500)
    moved = next(image for image in images if image["name"] == "panorama big.png")
    assert stack.read_object(key_of(moved)) == new


async def test_a_sync_of_a_prefix_moves_new_and_changed_objects_and_marks_the_gone_one_removed(
    api: AsyncTestClient[Any], stack: Stack, bucket: Bucket
) -> None:
    response = await api.post("/syncs", json={"url": bucket.link("synced/"), "every": "1h"})
    assert response.status_code == 201, response.text
    sync = response.json()
    first = await wait_for_import(api, sync["last_run"]["import_id"])
    assert first["counts"]["imported"] == 3

    client = bucket.s3.client()
    changed, new = b"\xff\xd8\xff changed bytes", b"GIF89a new bytes"
    client.put_object(Bucket=bucket.name, Key="synced/changed.jpg", Body=changed)
    client.put_object(Bucket=bucket.name, Key="synced/new.gif", Body=new)
    client.delete_object(Bucket=bucket.name, Key="synced/gone.png")
    run = await api.post(f"/syncs/{sync['sync_id']}/run")
    assert run.status_code == 202, run.text
    second = await wait_for_import(api, run.json()["import_id"])

    assert second["counts"] == {
        "discovered": 3,
        "imported": 2,
        "unchanged": 1,
        "skipped": 0,
        "failed": 0,
        "removed": 1,
        "settled": 3,
        "waiting_for_quota": 0,
    }
    assert second["bytes_imported"] == len(changed) + len(new)
    images = {
        image["name"]: image for image in await all_images(api, import_id=second["import_id"])
    }
    assert images["changed.jpg"]["md5_checksum"] == hashlib.md5(changed).hexdigest()
    assert stack.read_object(key_of(images["new.gif"])) == new
    removed = await all_images(api, removed="true")
    assert [image["name"] for image in removed] == ["gone.png"]


async def test_the_sources_list_names_public_buckets_and_their_link_forms(
    api: AsyncTestClient[Any],
) -> None:
    sources = {source["name"]: source for source in (await api.get("/sources")).json()["items"]}
    public = sources["public_s3"]
    assert public["display_name"] == "Public S3 bucket"
    assert "s3://<bucket>/<prefix>/" in public["link_examples"]
