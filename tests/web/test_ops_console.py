"""The operators' console in Chromium, on the real web service, API, worker and database: a job
left running by a worker killed with SIGKILL shows as stalled and "Retry all stalled" gets it
done; cancelling a queued job stops it; cancelling a running one aborts it for good; the
imports page shows an import's failures by reason and requeues them; a visitor who is not a
signed-in operator sees nothing of the console and changes nothing."""

import asyncio
import os
import re
import signal
import time
import uuid
from typing import Any

import httpx
import procrastinate
from playwright.async_api import Browser, Page, expect

from tests.conftest import Stack, start_worker
from tests.web.conftest import browser_page, screenshot

OPS_TOKEN = "ops-console-test-token-7f3a"
OPS_PASSWORD = "ops-console-test-password"
API_ENV = {"OPS_TOKEN": OPS_TOKEN}
WEB_ENV = {"OPS_TOKEN": OPS_TOKEN, "OPS_PASSWORD": OPS_PASSWORD}


async def queued_job(stack: Stack) -> int:
    """A job queued for an hour from now, so no worker takes it meanwhile."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=stack.database_url))
    async with app.open_async():
        deferrer: Any = app.configure_task(
            "import.start", queue="listing", schedule_in={"hours": 1}
        )
        job_id: int = await deferrer.defer_async(import_id=str(uuid.uuid4()))
    return job_id


def job_status(stack: Stack, job_id: int) -> str | None:
    with stack.db() as db:
        row = db.execute(
            "SELECT status FROM procrastinate_jobs WHERE id = %s", (job_id,)
        ).fetchone()
    return None if row is None else str(row[0])


async def sign_in(page: Page, web: str, next_path: str = "/ops") -> None:
    await page.goto(f"{web}{next_path}")
    await expect(page).to_have_url(re.compile(r"/ops/sign-in"))
    await page.get_by_label("Your name").fill("alice")
    await page.get_by_label("Operators' password").fill(OPS_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(re.escape(next_path) + r"$"))


async def test_an_anonymous_visitor_sees_nothing_of_the_console_and_changes_nothing(
    browser: Browser, web: str, api_url: str, stack: Stack
) -> None:
    job_id = await queued_job(stack)
    async with browser_page(browser) as page:
        for path in ("/ops", "/ops/jobs", f"/ops/jobs/{job_id}", f"/ops/jobs/{job_id}/cancel"):
            await page.goto(f"{web}{path}")
            await expect(page).to_have_url(re.compile(r"/ops/sign-in\?next="))
            await expect(page.locator("main")).not_to_contain_text("import.start")
            await expect(page.locator("table")).to_have_count(0)
        await screenshot(page, "ops-sign-in")

        # A form post without the site's CSRF token is refused outright...
        refused = await page.request.post(
            f"{web}/ops/jobs/{job_id}/cancel", max_redirects=0, fail_on_status_code=False
        )
        assert refused.status == 403
        # ...and with one (the sign-in page gives any visitor a token) it is sent to sign in.
        token = await page.locator("input[name=_csrf_token]").first.get_attribute("value")
        assert token
        sent_away = await page.request.post(
            f"{web}/ops/jobs/{job_id}/cancel",
            form={"_csrf_token": token},
            max_redirects=0,
            fail_on_status_code=False,
        )
        assert sent_away.status == 303
        assert sent_away.headers["location"].startswith("/ops/sign-in")
        # A wrong password signs no one in.
        await page.get_by_label("Your name").fill("mallory")
        await page.get_by_label("Operators' password").fill("guess")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#password-error")).to_have_text("That password is not right.")
        await page.goto(f"{web}/ops")
        await expect(page).to_have_url(re.compile(r"/ops/sign-in"))

    # The API's /ops routes: nothing without OPS_TOKEN, API_TOKEN or not.
    async with httpx.AsyncClient(base_url=api_url) as api:
        assert (await api.get("/ops/jobs")).status_code == 401
        assert (await api.post(f"/ops/jobs/{job_id}/cancel")).status_code == 401
        wrong = {"Authorization": "Bearer not-the-ops-token"}
        assert (await api.get("/ops/queues", headers=wrong)).status_code == 401
    assert job_status(stack, job_id) == "todo"


async def test_cancel_stops_a_queued_job(browser: Browser, web: str, stack: Stack) -> None:
    job_id = await queued_job(stack)
    async with browser_page(browser) as page:
        await sign_in(page, web)
        await page.goto(f"{web}/ops/jobs?status=todo&queue=listing")
        await page.get_by_role("link", name=f"#{job_id}").click()
        await expect(page.get_by_test_id("job-status")).to_have_text("todo")
        await expect(page.get_by_test_id("events")).to_contain_text("scheduled")
        await page.get_by_role("link", name="Cancel").click()
        await expect(page.locator("h1")).to_contain_text(f"Cancel job {job_id}?")
        await page.get_by_role("button", name="Cancel job").click()
        await expect(page.get_by_test_id("done")).to_contain_text("cancelled")
        await expect(page.get_by_test_id("job-status")).to_have_text("cancelled")
        await expect(page.get_by_test_id("events")).to_contain_text("cancelled")
        await screenshot(page, "ops-job-cancelled")
    assert job_status(stack, job_id) == "cancelled"


async def test_a_job_stalled_by_a_killed_worker_shows_and_retry_finishes_it(
    browser: Browser, web: str, api_url: str, stack: Stack
) -> None:
    # Drive answers nothing for a while: the import's first job is running when the worker dies.
    stack.drive.app.state.settings.update({"latency_ms": 30_000})
    try:
        async with httpx.AsyncClient(base_url=api_url) as api:
            started = await api.post(
                "/imports", json={"url": stack.drive.fixture.link("mixed"), "recursive": True}
            )
            assert started.status_code == 202, started.text
            import_id = started.json()["import_id"]
            job_id = await running_job_of(stack, import_id)
            os.kill(stack.worker.pid, signal.SIGKILL)
            stack.worker.wait()
    finally:
        stack.drive.app.state.settings.update({"latency_ms": 0})
    assert job_status(stack, job_id) == "doing"

    async with browser_page(browser, phone=True) as page:
        await sign_in(page, web)
        stalled = page.get_by_test_id("stalled")
        # The page polls: the job shows once its worker has been silent STALLED_WORKER_SECONDS.
        await expect(stalled).to_contain_text(f"#{job_id}", timeout=30_000)
        await expect(page.get_by_test_id("workers")).to_contain_text("silent")
        await screenshot(page, "ops-stalled-phone")
        await page.get_by_role("link", name="Retry all stalled").click()
        await expect(page.locator("h1")).to_contain_text("Retry all 1 stalled jobs?")
        await page.get_by_role("button", name="Retry all stalled").click()
        await expect(page.get_by_test_id("done")).to_contain_text("1 stalled jobs are back")
        await expect(page.get_by_test_id("no-stalled")).to_be_visible()
    assert job_status(stack, job_id) == "todo"

    stack.worker = start_worker(stack.env, stack.worker_log)
    async with httpx.AsyncClient(base_url=api_url) as api:
        deadline = time.monotonic() + 120
        while (body := (await api.get(f"/imports/{import_id}")).json())["status"] != "completed":
            assert time.monotonic() < deadline, body
            await asyncio.sleep(0.5)
    # It succeeded, so the worker deleted it (delete_jobs="successful").
    assert job_status(stack, job_id) is None


async def running_job_of(stack: Stack, import_id: str) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with stack.db() as db:
            row = db.execute(
                "SELECT id FROM procrastinate_jobs"
                " WHERE status = 'doing' AND args->>'import_id' = %s",
                (import_id,),
            ).fetchone()
        if row:
            return int(row[0])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no job of import {import_id} started running")


# After the stalled job's test, which counts the jobs running when it kills the worker: these
# leave imports behind that a later kill could catch mid-job.
async def test_cancelling_a_running_job_aborts_it_for_good(
    browser: Browser, web: str, api_url: str, stack: Stack
) -> None:
    # Drive answers nothing for a while: the import's first job is running when it is aborted.
    stack.drive.app.state.settings.update({"latency_ms": 30_000})
    try:
        async with httpx.AsyncClient(base_url=api_url) as api:
            started = await api.post(
                "/imports", json={"url": stack.drive.fixture.link("ops console abort")}
            )
            assert started.status_code == 202, started.text
            import_id = started.json()["import_id"]
        job_id = await running_job_of(stack, import_id)
        async with browser_page(browser) as page:
            await sign_in(page, web, f"/ops/jobs/{job_id}")
            await expect(page.get_by_test_id("job-status")).to_have_text("doing")
            await page.get_by_role("link", name="Cancel").click()
            await expect(page.locator("h1")).to_contain_text(f"Cancel job {job_id}?")
            await page.get_by_role("button", name="Cancel job").click()
            await expect(page.get_by_test_id("done")).to_contain_text("abort requested")
            # The page polls while the job runs: the worker cancels it within moments.
            await expect(page.get_by_test_id("job-status")).to_have_text("aborted", timeout=20_000)
            await expect(page.get_by_test_id("events")).to_contain_text("abort requested")
            await screenshot(page, "ops-job-aborted")
    finally:
        stack.drive.app.state.settings.update({"latency_ms": 0})
    # Aborted, not retried as after a worker's shutdown: it stays so.
    await asyncio.sleep(2)
    assert job_status(stack, job_id) == "aborted"
    # Its import is still queued, so queue_imports_in_turn may start it again (a new job) and it
    # may have completed already; otherwise it stops here.
    async with httpx.AsyncClient(base_url=api_url) as api:
        cancelled = await api.post(f"/imports/{import_id}/cancel")
        assert cancelled.status_code in (202, 409), cancelled.text


async def test_the_imports_page_shows_failures_by_reason_and_requeues_them(
    browser: Browser, web: str, api_url: str, stack: Stack
) -> None:
    async with httpx.AsyncClient(base_url=api_url) as api:
        started = await api.post(
            "/imports", json={"url": stack.drive.fixture.link("ops console failing")}
        )
        assert started.status_code == 202, started.text
        import_id = started.json()["import_id"]
        await import_ended(api, import_id, "completed_with_errors")

    async with browser_page(browser, phone=True) as page:
        await sign_in(page, web, "/ops/imports")
        failing = page.get_by_test_id("most-failed").locator("tr", has_text=import_id[:8])
        await expect(failing).to_contain_text("cannotDownloadAbusiveFile")
        await expect(failing.locator("[data-label=Failed]")).to_have_text("2")
        await expect(page.get_by_test_id("failures-by-reason")).to_contain_text(
            "cannotDownloadAbusiveFile"
        )
        await screenshot(page, "ops-imports-phone")
        requeue = f"Requeue the failures of import {import_id[:8]}"
        await failing.get_by_role("link", name=requeue).click()
        await expect(page.locator("h1")).to_contain_text("Queue this import's failed files")
        await page.get_by_role("button", name="Requeue failures").click()
        await expect(page.get_by_test_id("done")).to_have_text("2 failed files are queued again.")

    # Drive refuses them for good again: the import ends as before, its two files retried.
    async with httpx.AsyncClient(base_url=api_url) as api:
        body = await import_ended(api, import_id, "completed_with_errors")
    assert (body["counts"]["imported"], body["counts"]["failed"]) == (3, 2)


async def import_ended(api: httpx.AsyncClient, import_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while (body := (await api.get(f"/imports/{import_id}")).json())["status"] != status:
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.3)
    return body
