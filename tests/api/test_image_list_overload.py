"""No one kind of image listing can starve the others: a statement that runs past the timeout
and a listing whose kind holds its share of the pool both answer 503 with Retry-After at once,
while a plain page of the newest images is still served."""

import asyncio
from typing import Any

import pytest

from api.images.limits import QueryClasses
from tests.conftest import ApiClient, Stack

API_SETTINGS = {"db_statement_timeout_seconds": 0.3, "db_pool_max_size": 10}


def assert_overloaded(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "overloaded"
    assert int(response.headers["Retry-After"]) >= 1


async def test_a_statement_past_the_timeout_answers_503_with_retry_after(
    api: ApiClient, stack: Stack
) -> None:
    # A lock held on the table keeps the listing waiting: the wait counts against the timeout.
    with stack.db() as db, db.transaction():
        db.execute("LOCK TABLE images IN ACCESS EXCLUSIVE MODE")
        started = asyncio.get_running_loop().time()
        response = await api.get("/images")
        waited = asyncio.get_running_loop().time() - started
    assert_overloaded(response)
    assert waited < 2
    assert (await api.get("/images")).status_code == 200


@pytest.mark.parametrize("query", ["q=beach", "min_width=100", "taken_before=2020-01-01T00:00:00"])
async def test_a_kind_at_its_share_answers_503_while_plain_listing_answers_200(
    api: ApiClient, query: str
) -> None:
    classes: QueryClasses = api.app.state.query_classes
    assert classes.slots == 3
    kind = "text_search" if query.startswith("q=") else "ranges"
    for _ in range(classes.slots):
        await classes.free[kind].acquire()
    try:
        started = asyncio.get_running_loop().time()
        assert_overloaded(await api.get(f"/images?{query}"))
        # It waited for a slot no longer than a fast listing takes: no queue.
        assert asyncio.get_running_loop().time() - started < 1
        assert (await api.get("/images")).status_code == 200
        assert (await api.get("/images?source=google_drive&sort=taken_at")).status_code == 200
    finally:
        for _ in range(classes.slots):
            classes.free[kind].release()
    assert (await api.get(f"/images?{query}")).status_code == 200
