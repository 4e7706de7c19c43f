"""Download as ZIP from the web, in Chromium: the import's page downloads all its images, the
gallery downloads the ticked ones, and the web relays Range so that a cut download resumes."""

import io
import zipfile
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser

from tests.conftest import Stack
from tests.image_files import ImageFile
from tests.seeded_images import seed_images
from tests.web.conftest import browser_page, screenshot

FILES = [ImageFile(f"photo {i}.jpg", "image/jpeg", bytes([i]) * (20_000 + i)) for i in range(1, 6)]


@pytest.fixture(scope="module")
def seeded(stack: Stack) -> tuple[str, dict[str, str]]:
    return seed_images(stack, FILES)


async def test_the_import_page_downloads_every_image_as_one_zip(
    browser: Browser, web: str, seeded: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    import_id, _ = seeded
    async with browser_page(browser) as page:
        await page.goto(f"{web}/imports/{import_id}")
        await screenshot(page, "import-download-zip")
        async with page.expect_download() as waiting:
            await page.get_by_test_id("import-archive").click()
        download = await waiting.value
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
    assert saved.name == f"import-{import_id[:8]}.zip"
    with zipfile.ZipFile(saved) as archive:
        assert archive.testzip() is None
        assert {name: archive.read(name) for name in archive.namelist()} == {
            f.name: f.data for f in FILES
        }


async def test_the_gallery_downloads_the_ticked_images_as_one_zip(
    browser: Browser, web: str, seeded: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    import_id, _ = seeded
    async with browser_page(browser) as page:
        await page.goto(f"{web}/images?import_id={import_id}")
        await page.get_by_label("Select photo 2.jpg").check()
        await page.get_by_label("Select photo 4.jpg").check()
        await screenshot(page, "gallery-selection")
        async with page.expect_download() as waiting:
            await page.get_by_test_id("download-selected").click()
        download = await waiting.value
        saved = tmp_path / "selection.zip"
        await download.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == ["photo 2.jpg", "photo 4.jpg"]


async def test_the_web_relays_a_range_so_a_cut_download_resumes(
    web: str, seeded: tuple[str, dict[str, str]]
) -> None:
    import_id, _ = seeded
    async with httpx.AsyncClient(base_url=web, timeout=30) as client:
        whole = await client.get(f"/imports/{import_id}/archive")
        assert whole.status_code == 200
        assert int(whole.headers["content-length"]) == len(whole.content)
        middle = len(whole.content) // 2
        rest = await client.get(
            f"/imports/{import_id}/archive",
            headers={"Range": f"bytes={middle}-", "If-Range": whole.headers["etag"]},
        )
    assert rest.status_code == 206
    assert (
        rest.headers["content-range"]
        == f"bytes {middle}-{len(whole.content) - 1}/{len(whole.content)}"
    )
    assert whole.content[:middle] + rest.content == whole.content
    assert zipfile.ZipFile(io.BytesIO(whole.content)).testzip() is None
