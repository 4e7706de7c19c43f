"""The gallery in Chromium shows thumbnails, never originals: a screen of 24 tiles of
multi-megabyte photos transfers under 1 MB, each tile keeps its picture's shape, and the
image's page shows its facts and downloads the original under its own name."""

import io
from datetime import timedelta

import pytest
from PIL import Image
from playwright.async_api import Browser, Page, Response, expect

from tests.conftest import Stack
from tests.image_files import TAKEN_AT, ImageFile, photo
from tests.seeded_images import run_backfill, seed_images, wait_for_derivatives
from tests.web.conftest import browser_page, screenshot

TILES = 24
BYTE_BUDGET = 1_000_000
# Tall enough that every tile of the first page is on screen, so every one loads.
TALL_SCREEN = {"width": 1280, "height": 4200}


def big_photo(width: int, height: int, *, orientation: int, day: int) -> bytes:
    """A photo of a few megabytes, as a phone saves it."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F], exif[0x0110] = "Apple", "iPhone 13"
    exif.get_ifd(0x8769)[0x9003] = (TAKEN_AT + timedelta(days=day)).strftime("%Y:%m:%d %H:%M:%S")
    body = io.BytesIO()
    photo(width, height, seed=day).save(body, "JPEG", quality=97, exif=exif.tobytes())
    return body.getvalue()


@pytest.fixture(scope="module")
def photos(stack: Stack) -> tuple[str, dict[str, str], int]:
    """24 photos of 12 MP (some turned upright by EXIF), with their thumbnails made:
    (import id, name → image id, bytes of the originals)."""
    landscape = big_photo(4000, 3000, orientation=1, day=0)
    portrait = big_photo(4000, 3000, orientation=6, day=1)
    files = [
        ImageFile(f"IMG_{i:04d}.jpg", "image/jpeg", portrait if i % 3 == 0 else landscape)
        for i in range(TILES)
    ]
    import_id, ids = seed_images(stack, files)
    run_backfill(stack)
    wait_for_derivatives(stack, list(ids.values()), timeout=180)
    return import_id, ids, sum(len(f.data) for f in files)


async def test_a_screen_of_24_tiles_of_large_photos_transfers_under_1_mb(
    browser: Browser, web: str, photos: tuple[str, dict[str, str], int]
) -> None:
    import_id, _, original_bytes = photos
    assert original_bytes > TILES * 1_500_000  # multi-megabyte originals
    received: list[Response] = []
    async with browser_page(browser) as page:
        await page.set_viewport_size(TALL_SCREEN)
        page.on("response", lambda response: received.append(response))
        await page.goto(f"{web}/images?import_id={import_id}")
        images = page.locator(".tile img")
        await expect(images).to_have_count(TILES)
        await page.wait_for_load_state("networkidle")
        await _all_drawn(page)
        transferred = sum([len(await response.body()) for response in received])
        await screenshot(page, "gallery-thumbnails")

        image_urls = [r.url for r in received if r.request.resource_type == "image"]
        assert len(image_urls) == TILES
        assert all("/thumbnails/" in url for url in image_urls), image_urls
        assert transferred < BYTE_BUDGET, f"{transferred:,} bytes for one screen"

        # Each tile's img carries its thumbnail's own shape: 4:3, or 3:4 for the turned ones.
        shapes = await images.evaluate_all(
            "imgs => imgs.map(i => [i.getAttribute('width'), i.getAttribute('height'),"
            " i.naturalWidth, i.naturalHeight])"
        )
        assert {(w, h) for w, h, *_ in shapes} == {("320", "240"), ("240", "320")}
        assert all(int(w) == nw and int(h) == nh for w, h, nw, nh in shapes)
        await expect(page.locator(".tile .dims").first).to_contain_text("\u00d7")
        await expect(page.locator(".tile .taken").first).to_contain_text("Taken 2023-07-1")


async def test_the_image_page_shows_its_facts_and_downloads_the_original_by_name(
    page: Page, web: str, photos: tuple[str, dict[str, str], int]
) -> None:
    _, ids, _ = photos
    await page.goto(f"{web}/images/{ids['IMG_0003.jpg']}")

    await expect(page.locator("[data-fact=dimensions]")).to_have_text("3,000 \u00d7 4,000")
    await expect(page.locator("[data-fact=taken]")).to_have_text("2023-07-15 09:30")
    await expect(page.locator("[data-fact=camera]")).to_have_text("Apple iPhone 13")
    assert "/thumbnails/" in (await page.locator(".image-view img").get_attribute("src") or "")
    await screenshot(page, "image-detail-facts")

    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Download IMG_0003.jpg").click()
    download = await waiting.value
    assert download.suggested_filename == "IMG_0003.jpg"


async def test_an_imports_page_shows_its_thumbnail_progress(
    page: Page, web: str, photos: tuple[str, dict[str, str], int]
) -> None:
    import_id, _, _ = photos
    await page.goto(f"{web}/imports/{import_id}")

    progress = page.locator("#thumbnail-progress")
    await expect(progress.locator("[data-thumbnails=done]")).to_have_text(str(TILES))
    await expect(progress.locator("[data-thumbnails=pending]")).to_have_text("0")


async def _all_drawn(page: Page) -> None:
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.tile img')].every(i => i.complete"
        " && i.naturalWidth > 0)"
    )
