"""Small async helpers shared by the tests."""

import asyncio
import time
from typing import Any

from litestar.testing import AsyncTestClient

TERMINAL = {"completed", "completed_with_errors", "failed", "cancelled"}


async def start_import(api: AsyncTestClient[Any], url: str, **options: Any) -> str:
    response = await api.post("/import/google-drive", json={"url": url, **options})
    assert response.status_code == 202, response.text
    import_id: str = response.json()["import_id"]
    return import_id


async def wait_for_import(
    api: AsyncTestClient[Any], import_id: str, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await api.get(f"/imports/{import_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in TERMINAL:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"import did not finish in {timeout}s: {body}")
        await asyncio.sleep(0.2)


async def all_images(api: AsyncTestClient[Any], **params: Any) -> list[dict[str, Any]]:
    """Follow next_cursor to the end."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await api.get("/images", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def jobs_succeeded(db: Any, job_ids: list[int]) -> bool:
    """Whether every one of the jobs has succeeded: the worker deletes a job when it succeeds,
    so they are all gone. A job that ended any other way (it stays) fails the test at once."""
    left = db.execute(
        "SELECT id, status::text FROM procrastinate_jobs WHERE id = ANY(%s)", (job_ids,)
    ).fetchall()
    ended_badly = [(job_id, status) for job_id, status in left if status not in {"todo", "doing"}]
    assert not ended_badly, f"jobs did not succeed: {ended_badly}"
    return not left


def eventually(check: Any, timeout: float = 30) -> None:
    """Wait until `check()` is true (the worker does some things a moment later, e.g. queueing
    the transfers of files a retry put back); its docstring says what was awaited."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check.__doc__}")
        time.sleep(0.1)
