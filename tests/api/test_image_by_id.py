"""One image by id, and its content as a redirect to a download link that serves its bytes."""

import hashlib
import os
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.settings import Settings as ApiSettings
from tests.api.factories import insert_image, insert_import
from tests.conftest import Stack

UNKNOWN_IDS = ["00000000-0000-0000-0000-000000000000", "not-a-uuid"]


@pytest.fixture(scope="module")
def stored_image(stack: Stack) -> tuple[str, bytes]:
    """An image row whose object is really in the module's bucket; its id and its bytes."""
    content = os.urandom(70_000)
    file_id = "1StoredStoredStoredStoredStored0"
    key = f"google_drive/{file_id}"
    stack.s3.client().put_object(
        Bucket=stack.bucket, Key=key, Body=content, ContentType="image/png"
    )
    with stack.db() as db:
        image_id = insert_image(
            db,
            insert_import(db),
            source_file_id=file_id,
            name="stored.png",
            mime_type="image/png",
            size=len(content),
            md5_checksum=hashlib.md5(content).hexdigest(),
            storage_key=key,
            storage_path=f"s3://{stack.bucket}/{key}",
        )
    return image_id, content


async def test_an_image_is_served_by_its_id_as_in_the_list(
    api: AsyncTestClient[Any], stored_image: tuple[str, bytes]
) -> None:
    image_id, content = stored_image
    response = await api.get(f"/images/{image_id}")
    assert response.status_code == 200
    image = response.json()
    listed = next(
        item
        for item in (await api.get("/images", params={"limit": 500})).json()["items"]
        if item["id"] == image_id
    )
    # Download links are signed per request; everything else is the same.
    assert {**image, "url": None} == {**listed, "url": None}
    assert urlsplit(image["url"]).path == urlsplit(listed["url"]).path
    assert (image["name"], image["size"], image["mime_type"]) == (
        "stored.png",
        len(content),
        "image/png",
    )


async def test_image_content_redirects_to_a_link_that_serves_its_bytes(
    api: AsyncTestClient[Any], stack: Stack, stored_image: tuple[str, bytes]
) -> None:
    image_id, content = stored_image
    response = await api.get(f"/images/{image_id}/content", follow_redirects=False)

    assert response.status_code == 307
    location = response.headers["location"]
    assert (
        urlsplit(location).path == f"/{stack.bucket}/google_drive/1StoredStoredStoredStoredStored0"
    )
    async with httpx.AsyncClient() as http:
        download = await http.get(location)
    assert download.status_code == 200
    assert download.content == content


@pytest.fixture(scope="module")
def stored_dropbox_image(stack: Stack) -> tuple[str, bytes]:
    """An image whose key the worker quoted (Dropbox ids hold ':'), so its link quotes '%'."""
    content = os.urandom(30_000)
    file_id = "id:a4ayc_80_OEAAAAAAAAAXw"
    key = "dropbox/id%3Aa4ayc_80_OEAAAAAAAAAXw"
    stack.s3.client().put_object(Bucket=stack.bucket, Key=key, Body=content)
    with stack.db() as db:
        image_id = insert_image(
            db,
            insert_import(db),
            source="dropbox",
            source_file_id=file_id,
            size=len(content),
            storage_key=key,
            storage_path=f"s3://{stack.bucket}/{key}",
        )
    return image_id, content


async def test_the_links_of_a_listed_page_serve_each_images_bytes(
    api: AsyncTestClient[Any],
    stored_image: tuple[str, bytes],
    stored_dropbox_image: tuple[str, bytes],
) -> None:
    expected = dict([stored_image, stored_dropbox_image])
    page = (await api.get("/images", params={"limit": 500})).json()
    links = {item["id"]: item["url"] for item in page["items"] if item["id"] in expected}
    links[stored_dropbox_image[0] + " by id"] = (
        await api.get(f"/images/{stored_dropbox_image[0]}")
    ).json()["url"]

    assert len(links) == 3
    async with httpx.AsyncClient() as http:
        for image_id, url in links.items():
            download = await http.get(url)
            assert download.status_code == 200, download.text
            assert download.content == expected[image_id.removesuffix(" by id")]


@pytest.mark.parametrize("image_id", UNKNOWN_IDS)
@pytest.mark.parametrize("suffix", ["", "/content"])
async def test_an_unknown_image_is_404(
    api: AsyncTestClient[Any], stack: Stack, image_id: str, suffix: str
) -> None:
    response = await api.get(f"/images/{image_id}{suffix}", follow_redirects=False)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_reads_hand_their_connection_back_out_of_autocommit(
    stack: Stack, stored_image: tuple[str, bytes]
) -> None:
    # Image routes read in autocommit; the next request on the same pooled connection may be a
    # POST that needs its BEGIN ... COMMIT, so the one connection of this pool must come back
    # as the pool made it, after a read that succeeded and one that failed.
    settings = ApiSettings(
        database_url=stack.database_url,
        s3_endpoint_url=stack.s3.endpoint_url,
        aws_access_key_id=stack.s3.access_key,
        aws_secret_access_key=stack.s3.secret_key,
        db_pool_max_size=1,
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.get("/images", params={"limit": 1})).status_code == 200
        assert (await client.get("/images", params={"cursor": "garbage"})).status_code == 422
        assert (await client.get(f"/images/{stored_image[0]}")).status_code == 200
        pool = client.app.state.db_pool
        async with pool.connection() as conn:
            assert conn.autocommit is False
