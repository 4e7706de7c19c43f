"""The whole job done from a browser: paste a link, watch it import, browse and filter the
gallery. Chromium drives the real web service, API, worker, S3 and the Drive emulator."""

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from devstack.ports import free_port
from emulators.google_drive import FaultRule
from tests.conftest import Stack, start_api
from tests.web.conftest import browser_page, screenshot, start_web

API_TOKEN = "browser-test-token-3b9f1e"
WEB_PASSWORD = "browser-test-password"
# Files over their download quota fail at once here (they would wait hours for it otherwise).
WORKER_ENV = {"SOURCE_QUOTA_GIVE_UP_SECONDS": "0"}


async def start_import_from_the_page(page: Page, web: str, link: str, *, subfolders: bool) -> None:
    await page.goto(web)
    await page.get_by_label("Folder link").fill(link)
    await expect(page.locator("#url-hint")).to_contain_text("Recognised: a Google Drive folder")
    switch = page.get_by_role("switch", name="Include subfolders")
    await switch.set_checked(subfolders)
    await page.get_by_role("button", name="Start import").click()
    await expect(page).to_have_url(re.compile(r"/imports/[0-9a-f-]{36}$"))


async def test_an_import_started_from_the_page_reaches_100_percent(
    page: Page, web: str, stack: Stack
) -> None:
    await page.goto(web)
    await screenshot(page, "import-form")
    await start_import_from_the_page(page, web, stack.drive.fixture.link("mixed"), subfolders=True)

    await expect(page.get_by_test_id("percent")).to_have_text("100 %", timeout=60_000)
    await expect(page.locator("#import-progress")).to_have_attribute("value", "100")
    await expect(page.locator(".status-line")).to_contain_text("Completed")
    counts = page.locator("[data-count]")
    await expect(counts).to_have_text(["10", "8", "0", "2", "0"])
    # Polling stops at a terminal status: the section no longer asks for updates.
    await expect(page.locator("#progress")).not_to_have_attribute("hx-trigger", re.compile("."))
    await screenshot(page, "import-completed")

    await page.get_by_role("link", name="View the images of this import").click()
    tiles = page.locator(".tile")
    await expect(tiles).to_have_count(8)
    await screenshot(page, "gallery-of-import")

    await page.goto(f"{web}/imports")
    await expect(page.locator("#imports tbody tr")).to_have_count(1)
    await screenshot(page, "imports-list")


async def test_the_gallery_filters_scrolls_on_and_opens_an_image(
    page: Page, web: str, stack: Stack
) -> None:
    await start_import_from_the_page(
        page, web, stack.drive.fixture.link("retried"), subfolders=True
    )
    # A picture of an import under way, if the poll catches one (300 files go by quickly).
    with contextlib.suppress(AssertionError):
        await expect(page.locator("[data-count=imported]")).not_to_have_text("0", timeout=5_000)
    await screenshot(page, "import-running")
    await expect(page.get_by_test_id("percent")).to_have_text("100 %", timeout=90_000)
    await page.get_by_role("link", name="View the images of this import").click()
    tiles = page.locator(".tile")
    await expect(tiles).to_have_count(24)  # one page; the rest comes while scrolling

    await page.get_by_label("Source", exact=True).select_option(label="Dropbox")
    await expect(page.locator("#results")).to_contain_text("No images match these filters")
    assert "source=dropbox" in page.url
    await screenshot(page, "gallery-no-match")
    await page.get_by_label("Source", exact=True).select_option(label="Google Drive")
    await page.get_by_label("Type").select_option(label="PNG")
    await expect(page.locator("#results")).to_contain_text("No images match these filters")
    await page.get_by_label("Type").select_option(label="JPEG")
    await page.get_by_label("Name contains").fill("R_0")  # r_001 … r_099, whatever the case
    await expect(tiles).to_have_count(24)

    # Infinite scroll: each time the end of the grid shows, the next page of the same filters
    # is appended, until the API's cursor runs out.
    more = page.locator(".grid .more")
    for loaded in (48, 72, 96, 99):
        await more.scroll_into_view_if_needed()
        await expect(tiles).to_have_count(loaded)
    await expect(more).to_have_count(0)
    names = await page.locator(".tile .name").all_text_contents()
    assert sorted(names) == [f"r_{i:03d}.jpg" for i in range(1, 100)]
    await screenshot(page, "gallery-filtered")

    await tiles.first.click()
    await expect(page).to_have_url(re.compile(r"/images/[0-9a-f-]{36}$"))
    await expect(page.locator("h1")).to_have_text(names[0])
    await expect(page.locator(".meta")).to_contain_text("Google Drive")
    await screenshot(page, "image-detail")
    href = await page.get_by_role("link", name="Download").get_attribute("href")
    download = await page.request.get(f"{web}{href}")
    assert download.status == 200
    assert (await download.body())[:2] == b"\xff\xd8"  # a JPEG


async def test_a_hostile_file_name_renders_as_text(page: Page, web: str, stack: Stack) -> None:
    hostile = "<img src=x onerror=alert(1)>.png"
    await start_import_from_the_page(
        page, web, stack.drive.fixture.link("tricky"), subfolders=False
    )
    await expect(page.get_by_test_id("percent")).to_have_text("100 %", timeout=60_000)

    await page.goto(f"{web}/images")
    await page.get_by_label("Name contains").fill("onerror")
    tile = page.locator(".tile")
    await expect(tile).to_have_count(1)
    await expect(tile.locator(".name")).to_have_text(hostile)
    await screenshot(page, "gallery-hostile-name")

    await tile.click()
    await expect(page.locator("h1")).to_have_text(hostile)
    # The name is text everywhere: no element was made of it (the page fixture also fails the
    # test if a dialog opened).
    assert await page.locator("img[src='x']").count() == 0
    assert await page.locator("[onerror]").count() == 0
    await screenshot(page, "image-detail-hostile-name")


async def test_keep_in_sync_starts_a_sync_whose_page_pauses_it(
    page: Page, web: str, stack: Stack
) -> None:
    await page.goto(web)
    await page.get_by_label("Folder link").fill(stack.drive.fixture.link("web synced"))
    # A sync's choices show once "Keep in sync" is ticked.
    await expect(page.get_by_label("Import again")).to_be_hidden()
    await page.get_by_role("switch", name="Keep in sync").check()
    await page.get_by_label("Import again").select_option(label="Every day")
    await page.get_by_label("Delete its image").check()
    await screenshot(page, "import-form-keep-in-sync")
    await page.get_by_role("button", name="Start import").click()
    await expect(page).to_have_url(re.compile(r"/imports/[0-9a-f-]{36}$"))
    import_id = page.url.rsplit("/", 1)[1]
    await expect(page.get_by_test_id("sync-run")).to_contain_text("a run of a sync")
    await expect(page.get_by_test_id("percent")).to_have_text("100 %", timeout=60_000)

    await page.get_by_role("navigation").get_by_role("link", name="Syncs").click()
    await expect(page).to_have_url(f"{web}/syncs")
    row = page.locator(".syncs-table tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.locator("[data-sync=every]")).to_have_text("Every day")
    await expect(row).to_contain_text("their images are deleted")
    await expect(row.locator("[data-sync=last-run]")).to_contain_text("Completed")
    await row.get_by_role("button", name="Pause").click()
    await expect(row.locator("[data-sync=next]")).to_have_text("Paused")
    await expect(row.get_by_role("button", name="Run now")).to_have_count(0)
    await screenshot(page, "syncs-page")
    await row.get_by_role("button", name="Resume").click()
    await expect(row.get_by_role("button", name="Run now")).to_be_visible()

    # The gallery's toggle for images removed at the source filters as the others do.
    await page.goto(f"{web}/images?import_id={import_id}")
    await page.get_by_role("switch", name="Show images removed at the source").check()
    await expect(page).to_have_url(re.compile(r"show_removed=true"))
    await expect(page.locator(".tile")).to_have_count(6)


async def test_a_sync_s_settings_ask_before_deleting_removed_images_and_only_then(
    browser: Browser, web: str, api_url: str, stack: Stack
) -> None:
    created = httpx.post(
        f"{api_url}/syncs", json={"url": stack.drive.fixture.link("empty"), "every": "1h"}
    )
    assert created.status_code == 201, created.text
    sync_id = created.json()["sync_id"]
    # Its own context: browser_page fails a page that opens any dialog, and this one must.
    context = await browser.new_context()
    context.set_default_timeout(15_000)
    page = await context.new_page()
    questions: list[str] = []
    answers: list[bool] = []
    errors: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        questions.append(dialog.message)
        await (dialog.accept() if answers.pop(0) else dialog.dismiss())

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    try:
        await page.goto(f"{web}/syncs/{sync_id}")
        form = page.locator("#sync-settings")
        row = page.locator(".syncs-table tbody tr")
        saved = re.compile(rf"/syncs/{sync_id}\?saved=1#settings$")

        # Another interval asks nothing.
        await form.get_by_label("Import again").select_option(label="Every 6 hours")
        await form.get_by_role("button", name="Save settings").click()
        await expect(page).to_have_url(saved)
        await expect(form.get_by_role("status")).to_have_text("Settings saved.")
        await expect(row.locator("[data-sync=every]")).to_have_text("Every 6 hours")
        assert questions == []

        # Deleting removed images asks; "no" changes nothing.
        await page.goto(f"{web}/syncs/{sync_id}")
        await form.get_by_label("Delete its image").check()
        answers.append(False)
        async with page.expect_event("dialog"):
            await form.get_by_role("button", name="Save settings").click()
        assert questions[0].startswith("Delete images whose file disappears at the source?")
        assert httpx.get(f"{api_url}/syncs/{sync_id}").json()["on_removed"] == "keep"
        answers.append(True)
        await form.get_by_role("button", name="Save settings").click()
        await expect(page).to_have_url(saved)
        await expect(row).to_contain_text("their images are deleted")
        assert len(questions) == 2

        # A refusal comes back beside its field, the page staying where it is.
        await page.goto(f"{web}/syncs/{sync_id}")
        await form.get_by_label("Notify URL").fill("http://127.0.0.1:9/hook")
        await form.get_by_role("button", name="Save settings").click()
        await expect(form.locator(".field-error")).to_contain_text(
            "notify_url: refused: 127.0.0.1 is a loopback address"
        )
        await expect(form.get_by_label("Notify URL")).to_have_value("http://127.0.0.1:9/hook")
        await expect(page).to_have_url(f"{web}/syncs/{sync_id}")
        await screenshot(page, "sync-settings-refused")
        assert len(questions) == 2  # the sync deletes already: nothing to ask
    finally:
        await context.close()
    assert errors == [], errors


async def test_the_import_form_shows_what_is_wrong_with_a_link(page: Page, web: str) -> None:
    await page.goto(web)
    field = page.get_by_label("Folder link")
    await field.fill("https://example.com/some/folder")
    await page.get_by_role("button", name="Start import").click()
    await expect(page.locator("#url-error")).to_contain_text(
        "not a folder link of a source this service imports from (Google Drive or Dropbox or "
        "Public S3 bucket or Nextcloud / ownCloud)"
    )
    await expect(field).to_have_attribute("aria-invalid", "true")

    # The API's own validation, shown inline: a link to a file, not a folder.
    await field.fill("https://drive.google.com/file/d/1AbCdEfGhIjKlMnOpQrSt/view")
    await page.get_by_role("button", name="Start import").click()
    await expect(page.locator("#url-error")).to_contain_text("a link to a single file")
    await expect(page).to_have_url(f"{web}/")
    await screenshot(page, "import-form-error")

    await field.fill("https://www.dropbox.com/scl/fo/abc123def456/AAAbbbCCC?rlkey=k1&dl=0")
    await expect(page.locator("#url-hint")).to_contain_text("Recognised: a Dropbox folder")


async def test_the_import_form_works_without_javascript(
    browser: Browser, web: str, stack: Stack
) -> None:
    async with browser_page(browser, javascript=False) as page:
        await page.goto(web)
        await page.get_by_role("button", name="Start import").click()
        await expect(page.locator("#url-error")).to_contain_text("Paste the link")

        await page.get_by_label("Folder link").fill(stack.drive.fixture.link("keyed root"))
        await page.get_by_role("button", name="Start import").click()
        await expect(page).to_have_url(re.compile(r"/imports/[0-9a-f-]{36}$"))
        # Nothing polls without JavaScript: the page reloads itself until the import ends.
        await expect(page.get_by_test_id("percent")).to_have_text("100 %", timeout=60_000)
        await expect(page.locator("[data-count=imported]")).to_have_text("4")
        await screenshot(page, "import-completed-without-javascript")


async def test_failed_files_are_listed_with_reasons_and_can_be_retried(
    page: Page, web: str, stack: Stack
) -> None:
    fixture = stack.drive.fixture
    # Failures are listed in file id order.
    failing = sorted(fixture.expected_images("reruns"), key=lambda image: image.id)[:2]
    stack.drive.set_faults(
        FaultRule(
            "download_quota_exceeded",
            routes=frozenset({"media"}),
            file_ids=frozenset(image.id for image in failing),
        )
    )
    try:
        await start_import_from_the_page(page, web, fixture.link("reruns"), subfolders=True)
        await expect(page.locator(".status-line")).to_contain_text(
            "Completed with errors", timeout=60_000
        )
        rows = page.locator("#failures tbody tr")
        await expect(rows).to_have_count(2)
        await expect(rows.locator("td.name")).to_have_text([image.name for image in failing])
        await expect(rows.first).to_contain_text("downloadQuotaExceeded")
        await screenshot(page, "import-with-failures")
    finally:
        stack.drive.set_faults()

    await page.get_by_role("button", name="Retry 2 failed files").click()
    await expect(page.locator(".status-line")).to_contain_text("Completed", timeout=60_000)
    await expect(page.locator(".status-line")).not_to_contain_text("errors")
    await expect(page.locator("[data-count=failed]")).to_have_text("0")
    await expect(page.locator("[data-count=imported]")).to_have_text("8")
    await expect(page.locator("#failures")).to_have_count(0)


async def test_pages_say_what_to_do_when_the_api_is_down(browser: Browser, tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    server = start_web(nowhere, tmp_path / "web.log")
    try:
        async with browser_page(browser) as page:
            response = await page.goto(f"{server.url}/images")
            assert response is not None and response.status == 503
            await expect(page.locator("h1")).to_have_text("The image service is not answering")
            await expect(page.locator("main")).to_contain_text("API_URL")
            await screenshot(page, "api-down")
    finally:
        server.stop()


async def test_pages_fit_a_phone_screen(browser: Browser, web: str) -> None:
    async with browser_page(browser, phone=True) as page:
        for name, path in [
            ("phone-import-form", "/"),
            ("phone-gallery", "/images"),
            ("phone-syncs", "/syncs"),
        ]:
            await page.goto(f"{web}{path}")
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} scrolls sideways on a phone ({width}px)"
            await screenshot(page, name)


@pytest.fixture(scope="module")
def guarded_web(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API with API_TOKEN, and a web service holding it and WEB_PASSWORD."""
    logs = tmp_path_factory.mktemp("guarded")
    api = start_api(stack, logs / "api.log", API_TOKEN=API_TOKEN)
    try:
        web = start_web(api.url, logs / "web.log", API_TOKEN=API_TOKEN, WEB_PASSWORD=WEB_PASSWORD)
        try:
            yield web.url
        finally:
            web.stop()
    finally:
        api.stop()


@pytest.mark.parametrize("javascript", [True, False])
async def test_with_a_token_set_an_import_starts_only_after_signing_in(
    browser: Browser, guarded_web: str, stack: Stack, javascript: bool
) -> None:
    web = guarded_web
    link = stack.drive.fixture.link("keyed root")
    async with browser_page(browser, javascript=javascript) as page:
        await page.goto(web)
        await page.get_by_label("Folder link").fill(link)
        await page.get_by_role("button", name="Start import").click()
        # Refused: the browser is sent to the sign-in page, to come back to the form after.
        await expect(page).to_have_url(f"{web}/sign-in?next=%2F")
        await expect(page.locator("h1")).to_have_text("Sign in")
        await screenshot(page, f"sign-in{'' if javascript else '-without-javascript'}")

        await page.get_by_label("Password").fill("not the password")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#password-error")).to_contain_text("not right")

        await page.get_by_label("Password").fill(WEB_PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page).to_have_url(f"{web}/")
        await page.get_by_label("Folder link").fill(link)
        await page.get_by_role("button", name="Start import").click()
        await expect(page).to_have_url(re.compile(r"/imports/[0-9a-f-]{36}(\?existing=1)?$"))

        await page.get_by_role("button", name="Sign out").click()
        await expect(page).to_have_url(f"{web}/")
        await expect(page.get_by_role("link", name="Sign in")).to_be_visible()


async def test_a_post_without_the_csrf_token_is_refused(page: Page, web: str) -> None:
    await page.goto(web)
    form = {"url": "https://drive.google.com/drive/folders/1CsrfTestFolder00000000000000"}
    refused = await page.request.post(f"{web}/imports", form=form, max_redirects=0)
    assert refused.status == 403
    assert "security token" in await refused.text()
    # The same request with the page's token goes through (to the import's page).
    token = await page.locator("#import-form input[name=_csrf_token]").get_attribute("value")
    assert token
    accepted = await page.request.post(
        f"{web}/imports", form={**form, "_csrf_token": token}, max_redirects=0
    )
    assert accepted.status == 303, await accepted.text()
