"""Fixtures of the web tests: the API and the web service as real servers (uvicorn, as they run
in production) on the module's stack, and one headless Chromium per module.

The browser is Debian's Chromium (`make test` installs it); Playwright only drives it, it never
downloads a browser of its own. CHROMIUM_PATH points at another binary.
"""

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Dialog, Page, async_playwright

from devstack.ports import free_port
from tests.servers import Server, refuse_in_fast_tier, start_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def start_web(api_url: str, log: Path, **env: str) -> Server:
    """The web service under uvicorn on a free port, talking to the API at `api_url`, with
    `env` added to this process's environment."""
    port = free_port()
    web_env = {
        **os.environ,
        "API_URL": api_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **env,
    }
    return start_server("web.app:app", web_env, log, port)


@pytest.fixture(scope="module")
def web(
    request: pytest.FixtureRequest, api_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The web service under uvicorn, talking to the API over HTTP; its base URL. A test
    module may set WEB_ENV (a dict) to change its environment."""
    log = tmp_path_factory.mktemp("web") / "web.log"
    server = start_web(api_url, log, **getattr(request.module, "WEB_ENV", {}))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    refuse_in_fast_tier("Chromium")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make chromium` (or set CHROMIUM_PATH)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class PageProblems:
    """What a page must never do: open a dialog (an injected script would), throw, or break
    its Content Security Policy."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(message.text)


@asynccontextmanager
async def browser_page(
    browser: Browser, *, javascript: bool = True, phone: bool = False
) -> AsyncIterator[Page]:
    """A page in a fresh browser context; raises if the page misbehaved meanwhile."""
    context = await browser.new_context(
        java_script_enabled=javascript, viewport=PHONE if phone else DESKTOP
    )
    context.set_default_timeout(15_000)
    page = await context.new_page()
    problems = PageProblems()
    page.on("dialog", problems.on_dialog)
    page.on("console", problems.on_console)
    page.on("pageerror", lambda error: problems.errors.append(str(error)))
    try:
        yield page
    finally:
        await context.close()
    assert not problems.dialogs, f"the page opened dialogs: {problems.dialogs}"
    assert not problems.errors, f"the page had errors: {problems.errors}"


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    async with browser_page(browser) as page:
        yield page


async def screenshot(page: Page, name: str) -> None:
    """Saved under artifacts/web/ for people (and CI) to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
