"""Images in the API with their derivatives: dimensions, capture time, camera and a thumbnail
link (or why there is none), the filters and the capture-time order they allow, download links
that save under the image's own name, and each import's thumbnail progress."""

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.auth
import httpx
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from api.images.repository import _list_query
from api.settings import Settings
from api.storage import download_links
from domain.s3_signing import content_disposition
from tests.conftest import Stack
from tests.helpers import all_images
from tests.image_files import TAKEN_AT, image_file, png_bomb
from tests.seeded_images import run_backfill, seed_images, wait_for_derivatives


@pytest.fixture(scope="module")
def gallery(stack: Stack) -> tuple[str, dict[str, str]]:
    """An import of photos taken a day apart (and two without a capture time), with their
    derivatives made, and a PNG bomb."""
    files = [
        image_file(
            "jpeg",
            400 + 100 * day,
            300,
            orientation=6 if day == 2 else 1,
            taken_at=TAKEN_AT + timedelta(days=day),
            name=f"IMG_000{day}.jpg",
        )
        for day in range(5)
    ]
    files += [
        image_file("png", 640, 480, taken_at=None, name="screenshot.png"),
        image_file("heic", 800, 600, taken_at=None, name="no clock.heic"),
        png_bomb(),
    ]
    import_id, ids = seed_images(stack, files)
    run_backfill(stack)
    wait_for_derivatives(stack, list(ids.values()))
    return import_id, ids


async def test_an_image_has_its_dimensions_capture_time_camera_and_a_thumbnail(
    api: AsyncTestClient[Any], gallery: tuple[str, dict[str, str]]
) -> None:
    _, ids = gallery
    image = (await api.get(f"/images/{ids['IMG_0002.jpg']}")).json()

    # Stored 600 x 300 with orientation 6: displayed 300 x 600.
    assert (image["width"], image["height"]) == (300, 600)
    assert image["taken_at"] == "2023-07-16T09:30:05"
    assert image["camera"] == "Apple iPhone 13"
    assert image["animated"] is False
    assert image["thumbnail_status"] == "done"
    assert image["thumbnail_reason"] is None
    thumbnail = httpx.get(image["thumbnail_url"])
    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumbnail.content)).size == (160, 320)


async def test_an_image_without_a_thumbnail_says_why(
    api: AsyncTestClient[Any], gallery: tuple[str, dict[str, str]], stack: Stack
) -> None:
    _, ids = gallery
    bomb = (await api.get(f"/images/{ids['bomb.png']}")).json()
    assert bomb["thumbnail_url"] is None
    assert bomb["thumbnail_status"] == "not_possible"
    assert "DERIVATIVE_MAX_PIXELS" in bomb["thumbnail_reason"]
    assert bomb["width"] is None

    _, waiting = seed_images(stack, [image_file("gif", name="later.gif")])
    later = (await api.get(f"/images/{waiting['later.gif']}")).json()
    assert later["thumbnail_url"] is None
    assert later["thumbnail_status"] == "missing"
    assert "backfill" in later["thumbnail_reason"]


async def test_images_filter_on_dimensions_and_capture_time(
    api: AsyncTestClient[Any], gallery: tuple[str, dict[str, str]]
) -> None:
    import_id, _ = gallery

    async def names(**params: Any) -> list[str]:
        return sorted(i["name"] for i in await all_images(api, import_id=import_id, **params))

    assert await names(min_width=700) == ["IMG_0003.jpg", "IMG_0004.jpg", "no clock.heic"]
    assert await names(min_height=500) == ["IMG_0002.jpg", "no clock.heic"]
    assert await names(taken_after="2023-07-15T00:00:00", taken_before="2023-07-17T00:00:00") == [
        "IMG_0001.jpg",
        "IMG_0002.jpg",
    ]
    assert await names(taken_after="2023-07-17T09:30:05Z") == ["IMG_0003.jpg", "IMG_0004.jpg"]
    refused = await api.get(
        "/images", params={"taken_after": "2023-07-17T00:00:00", "taken_before": "2023-07-16"}
    )
    assert refused.status_code in {400, 422}


async def test_sort_by_capture_time_pages_newest_taken_first_and_the_undated_last(
    api: AsyncTestClient[Any], gallery: tuple[str, dict[str, str]]
) -> None:
    import_id, _ = gallery

    pages = await all_images(api, import_id=import_id, sort="taken_at", limit=2)

    names = [image["name"] for image in pages]
    assert names[:5] == [f"IMG_000{day}.jpg" for day in (4, 3, 2, 1, 0)]
    assert sorted(names[5:]) == ["bomb.png", "no clock.heic", "screenshot.png"]
    assert len(set(names)) == len(names) == 8


async def test_download_links_save_the_file_under_its_own_name(
    api: AsyncTestClient[Any], gallery: tuple[str, dict[str, str]]
) -> None:
    _, ids = gallery
    image = (await api.get(f"/images/{ids['no clock.heic']}")).json()

    download = httpx.get(image["url"])
    assert download.status_code == 200
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"no clock.heic\"; filename*=UTF-8''no%20clock.heic"
    )
    redirect = await api.get(f"/images/{ids['IMG_0001.jpg']}/content", follow_redirects=False)
    assert redirect.status_code == 307
    saved = httpx.get(redirect.headers["location"])
    assert 'filename="IMG_0001.jpg"' in saved.headers["content-disposition"]


@pytest.mark.parametrize(
    "name", ["IMG_0001.jpg", "写真 📷.heic", 'a "quoted"; name.png', "../x.jpg"]
)
def test_named_download_links_are_the_ones_botocore_presigns(name: str) -> None:
    links = download_links(
        Settings(
            s3_endpoint_url="http://127.0.0.1:8333",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        )
    )
    at = datetime(2026, 3, 1, 12, 0, 0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.auth, "get_current_datetime", lambda *_, **__: at)
        client: Any = links._client
        expected = client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": "images",
                "Key": "google_drive/1x",
                "ResponseContentDisposition": content_disposition(name),
            },
            ExpiresIn=links.ttl_seconds,
        )
    signer = links.signer(at.replace(tzinfo=UTC))
    assert signer.url_for("images", "google_drive/1x", download_name=name) == expected


async def test_an_imports_thumbnail_progress_counts_each_state(
    api: AsyncTestClient[Any], gallery: tuple[str, dict[str, str]]
) -> None:
    import_id, _ = gallery

    progress = (await api.get(f"/imports/{import_id}/thumbnails")).json()

    assert progress == {
        "import_id": import_id,
        "done": 7,
        "pending": 0,
        "not_possible": 1,
        "missing": 0,
    }
    unknown = await api.get("/imports/00000000-0000-0000-0000-000000000000/thumbnails")
    assert unknown.status_code == 404
    assert (await api.get("/imports/not-an-id/thumbnails")).status_code == 404


def test_the_capture_time_order_is_served_by_its_index(stack: Stack) -> None:
    query = _list_query(("after_taken_at",), None, "taken_at").as_string()
    with stack.db() as db:
        db.execute("SET enable_seqscan = off")
        plan = db.execute(
            f"EXPLAIN {query}", (datetime(2023, 7, 15), "00000000-0000-0000-0000-000000000000", 50)
        ).fetchall()
    assert "images_taken_newest_idx" in "\n".join(line for (line,) in plan)
