"""Take the README's screenshots from the demo, as a newcomer would see it: `make demo`'s Drive
folder, imported through the web page of `make up`'s stack.

It runs the Drive emulator with its sample folder and `devstack up` (embedded PostgreSQL and
S3 in a temporary directory, on free ports, so a running `make up` is left alone), pastes the
folder's link into the web page in Debian's Chromium (driven by Playwright, which never
downloads a browser of its own), waits for the import and its thumbnails, and saves:

- docs/import-page.png: the import's page, with its progress, counts and images;
- docs/gallery.png: the gallery of every image, thumbnails with their dimensions and dates;
- docs/imports.png: the imports, listed by their folder's name.

    uv run python docs/screenshots.py          # CHROMIUM_PATH for another browser binary

Run it again when the pages change, and commit the PNGs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.async_api import Page, async_playwright

from devstack.ports import free_ports
from emulators.google_drive import DriveFixture
from emulators.google_drive.cli import DEMO_KEY
from emulators.google_drive.samples import SAMPLE_ROOT

DOCS = Path(__file__).resolve().parent
REPOSITORY = DOCS.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}
READY_SECONDS = 120.0
IMPORT_SECONDS = 300.0


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A child in a session of its own, so that stopping it reaches only what it started."""
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPOSITORY,
            start_new_session=True,
        )  # fmt: skip


def stop(child: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a person stops `make up`: devstack stops its services, then its servers."""
    if child.poll() is None:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wait_until_up(url: str, child: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            sys.exit(f"{url} did not start; its log:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    sys.exit(f"{url} was not up within {READY_SECONDS:.0f} s; see {log}")


async def wait_for_thumbnails(api_url: str, import_id: str) -> None:
    """Until the import ended and none of its images waits for its thumbnail."""
    deadline = time.monotonic() + IMPORT_SECONDS
    async with httpx.AsyncClient(base_url=api_url) as api:
        while time.monotonic() < deadline:
            status = (await api.get(f"/imports/{import_id}")).json()["status"]
            thumbnails = (await api.get(f"/imports/{import_id}/thumbnails")).json()
            if status not in {"queued", "running"} and not thumbnails["pending"]:
                return
            await asyncio.sleep(1)
    sys.exit(f"import {import_id} and its thumbnails did not finish in {IMPORT_SECONDS:.0f} s")


async def screenshot(page: Page, url: str, name: str, *, down_to: str | None = None) -> None:
    """The page as the window shows it; with `down_to`, only as far as that element's bottom."""
    await page.goto(url)
    await page.wait_for_load_state("networkidle")
    # Every thumbnail on screen has loaded (lazy ones below the fold need not).
    await page.wait_for_function(
        "[...document.images].filter(i => i.getBoundingClientRect().top < innerHeight)"
        ".every(i => i.complete)"
    )
    clip = None
    if down_to is not None:
        box = await page.locator(down_to).bounding_box()
        assert box is not None, f"{down_to} is not on {url}"
        height = min(VIEWPORT["height"], box["y"] + box["height"] + 24)
        clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height}
    await page.screenshot(path=DOCS / name, clip=clip)
    print(f"saved docs/{name}")


async def take(web_url: str, api_url: str, link: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport=VIEWPORT)
            await page.goto(web_url)
            await page.fill("#url", link)
            await page.click("#import-form button[type=submit]")
            await page.wait_for_url(f"{web_url}/imports/*")
            import_id = page.url.rsplit("/", 1)[-1].split("?", 1)[0]
            await wait_for_thumbnails(api_url, import_id)
            await screenshot(page, f"{web_url}/imports/{import_id}", "import-page.png")
            await screenshot(page, f"{web_url}/images", "gallery.png")
            await screenshot(page, f"{web_url}/imports", "imports.png", down_to="#imports")
        finally:
            await browser.close()


def main() -> None:
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM}: run `make chromium` (or set CHROMIUM_PATH)")
    drive_port, api_port, web_port, postgres_port, s3_port = free_ports(5)
    drive_url = f"http://127.0.0.1:{drive_port}"
    with tempfile.TemporaryDirectory(prefix="screenshots-") as scratch:
        logs = Path(scratch)
        env = {
            **os.environ,
            "DATA_DIR": str(logs / "data"),
            "API_PORT": str(api_port),
            "WEB_PORT": str(web_port),
            "POSTGRES_PORT": str(postgres_port),
            "S3_PORT": str(s3_port),
            "GOOGLE_DRIVE_API_URL": drive_url,
            "GOOGLE_API_KEY": DEMO_KEY,
        }
        for unset in ("DATABASE_URL", "S3_ENDPOINT_URL", "API_URL", "API_TOKEN"):
            env.pop(unset, None)
        python = sys.executable
        drive = start(
            [python, "-m", "emulators.google_drive", "--port", str(drive_port)],
            env,
            logs / "drive.log",
        )
        stack = start([python, "-m", "devstack", "up"], env, logs / "devstack.log")
        try:
            sample = DriveFixture.sample()
            root = f"{drive_url}/drive/v3/files/{sample.folder_id(SAMPLE_ROOT)}?key={DEMO_KEY}"
            wait_until_up(root, drive, logs / "drive.log")
            api_url, web_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{web_port}"
            wait_until_up(f"{api_url}/readyz", stack, logs / "devstack.log")
            wait_until_up(f"{web_url}/healthz", stack, logs / "devstack.log")
            asyncio.run(take(web_url, api_url, sample.link(SAMPLE_ROOT)))
        finally:
            stop(stack)
            stop(drive)


if __name__ == "__main__":
    main()
