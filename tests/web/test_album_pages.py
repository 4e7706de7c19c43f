"""Albums in the web, browsed like a file manager: the top-level folders, then each folder's
subfolders before its images, breadcrumbs back up, the next images by infinite scroll (htmx)
or a plain link, and the same on a phone's screen. The real web and API under uvicorn, the
worker, Postgres, S3 and a Drive emulator of this module's own."""

import contextlib
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from emulators.google_drive import DriveFixture, EmulatorServer
from tests.conftest import Stack
from tests.web.conftest import browser_page, screenshot

HTMX = {"HX-Request": "true"}
# More than a page of tiles (24), so the album pages.
SUMMER_IMAGES = 30
SPEC = {
    "folders": [
        {
            "name": "Holiday",
            "files": [{"name": "cover.jpg", "size": 1200}],
            "folders": [
                {
                    "name": "Summer",
                    "files": [
                        {"name_pattern": "IMG_{i:03d}.jpg", "count": SUMMER_IMAGES, "size": 900}
                    ],
                    "folders": [{"name": "Beach", "files": [{"name": "wave.jpg", "size": 800}]}],
                },
                {"name": "Winter", "files": [{"name": "snow.png", "size": 700}]},
            ],
        }
    ]
}


@pytest.fixture(scope="module")
def drive() -> Iterator[EmulatorServer]:
    with EmulatorServer(DriveFixture(SPEC)) as server:
        yield server


@pytest.fixture(scope="module")
def albums(api_url: str, stack: Stack) -> dict[str, str]:
    """The Holiday folder imported; album path → id."""
    started = httpx.post(f"{api_url}/imports", json={"url": stack.drive.fixture.link("Holiday")})
    assert started.status_code == 202, started.text
    import_id = started.json()["import_id"]
    deadline = time.monotonic() + 60
    while httpx.get(f"{api_url}/imports/{import_id}").json()["status"] in {"queued", "running"}:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    listed = httpx.get(f"{api_url}/albums", params={"limit": 100}).json()["items"]
    return {album["path"]: album["id"] for album in listed}


@pytest.fixture
def client(web: str) -> Iterator[httpx.Client]:
    with contextlib.closing(httpx.Client(base_url=web)) as client:
        yield client


def tiles(text: str) -> list[str]:
    """The tiles' links in page order: /albums/<id> for folders, /images/<id> for images."""
    return re.findall(r'<li class="tile[^"]*">\s*<a href="(/(?:albums|images)/[^"]+)"', text)


def test_the_albums_page_shows_the_folders_imports_started_from(
    client: httpx.Client, albums: dict[str, str]
) -> None:
    page = client.get("/albums")
    assert page.status_code == 200
    assert tiles(page.text) == [f"/albums/{albums['Holiday']}"]
    assert "2 folders" in page.text
    assert 'aria-current="page">Albums<' in page.text

    found = client.get("/albums", params={"q": "ea"})
    assert tiles(found.text) == [f"/albums/{albums['Holiday/Summer/Beach']}"]
    fragment = client.get("/albums", params={"q": "inter"}, headers=HTMX)
    assert fragment.text.lstrip().startswith('<section id="results"')
    assert tiles(fragment.text) == [f"/albums/{albums['Holiday/Winter']}"]
    nothing = client.get("/albums", params={"q": "zzz"})
    assert "No album" in nothing.text


def test_a_folder_shows_its_subfolders_first_then_its_images_under_its_breadcrumbs(
    client: httpx.Client, albums: dict[str, str]
) -> None:
    page = client.get(f"/albums/{albums['Holiday']}")
    assert page.status_code == 200
    shown = tiles(page.text)
    assert shown[:2] == [
        f"/albums/{albums['Holiday/Summer']}",
        f"/albums/{albums['Holiday/Winter']}",
    ]
    assert len(shown) == 3 and shown[2].startswith("/images/")

    deep = client.get(f"/albums/{albums['Holiday/Summer/Beach']}")
    trail = deep.text.split('<nav class="breadcrumb crumbs"', 1)[1].split("</nav>", 1)[0]
    assert re.findall(r'<a href="([^"]+)">([^<]+)</a>', trail) == [
        ("/albums", "Albums"),
        (f"/albums/{albums['Holiday']}", "Holiday"),
        (f"/albums/{albums['Holiday/Summer']}", "Summer"),
    ]
    assert '<span aria-current="page">Beach</span>' in trail

    assert client.get("/albums/00000000-0000-0000-0000-000000000000").status_code == 404


def test_a_large_folder_pages_its_images_by_scroll_and_by_a_plain_link(
    client: httpx.Client, albums: dict[str, str]
) -> None:
    summer = albums["Holiday/Summer"]
    page = client.get(f"/albums/{summer}")
    first = [link for link in tiles(page.text) if link.startswith("/images/")]
    assert tiles(page.text)[0] == f"/albums/{albums['Holiday/Summer/Beach']}"
    assert len(first) == 24
    more = re.search(r'href="(/albums/[^"]+\?cursor=[^"]+)" hx-get="([^"]+)"', page.text)
    assert more is not None
    assert more.group(1) == more.group(2)

    next_tiles = client.get(more.group(2).replace("&amp;", "&"), headers=HTMX)
    assert next_tiles.status_code == 200
    rest = tiles(next_tiles.text)
    assert len(rest) == SUMMER_IMAGES - 24
    assert not set(rest) & set(first)
    assert "<html" not in next_tiles.text
    # Without scripts, the link is a page of its own with the next images.
    plain = client.get(more.group(1).replace("&amp;", "&"))
    assert "<html" in plain.text
    assert [link for link in tiles(plain.text) if link.startswith("/images/")] == rest


async def test_on_a_phone_a_folder_opens_and_the_breadcrumbs_lead_back_without_sideways_scroll(
    browser: Browser, web: str, albums: dict[str, str]
) -> None:
    async with browser_page(browser, phone=True) as page:
        await page.goto(f"{web}/albums")
        await page.get_by_role("link", name=re.compile("Holiday")).click()
        await page.get_by_role("link", name=re.compile("Summer")).click()
        await expect(page.locator("h1")).to_have_text("Summer")
        # Scrolling down brings the next images in.
        await page.locator(".grid .more a").scroll_into_view_if_needed()
        await expect(page.locator("#grid .tile")).to_have_count(SUMMER_IMAGES)
        overflow: Any = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        await screenshot(page, "album-on-a-phone")
        await page.locator(".crumbs").get_by_role("link", name="Holiday").click()
        await expect(page.locator("h1")).to_have_text("Holiday")
