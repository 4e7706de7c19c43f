"""Webhooks through the real stack: an import with a notify_url that ends, by whatever path (the
worker completing it, the API's cancel, an operator's SQL), sends exactly one event, signed so
that the Standard Webhooks library verifies it; a receiver that fails is retried with every
attempt visible in the API and in SQL, and one that always fails is given up after the
bounded time.

The receiver listens on 127.0.0.1, which the API's and the worker's WEBHOOK_ALLOWED_NETWORKS
name for this module only; retries are a fraction of a second apart and stop after 20 s."""

import asyncio
import json
import time
from collections.abc import Callable
from datetime import datetime
from itertools import pairwise
from typing import Any

from litestar.testing import AsyncTestClient
from standardwebhooks import Webhook

from tests.api.factories import insert_import
from tests.conftest import Stack
from tests.helpers import start_import, wait_for_import
from tests.ops.psql import ops
from tests.webhook_receiver import ReceivedRequest, WebhookReceiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
RETRY_FOR_SECONDS = 20
PUBLIC_URL = "https://images.example.com"

WORKER_ENV = {
    "WEBHOOK_SECRET": SECRET,
    "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
    "WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "WEBHOOK_RETRY_MAX_SECONDS": "1",
    "WEBHOOK_RETRY_FOR_SECONDS": str(RETRY_FOR_SECONDS),
    "API_PUBLIC_URL": PUBLIC_URL,
}
API_SETTINGS = {"webhook_allowed_networks": ["127.0.0.1/32"]}


async def wait_for(check: Callable[[], Any], timeout: float = 30) -> Any:
    """The first truthy value of `check()`; its docstring says what was awaited."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check.__doc__}")
        await asyncio.sleep(0.1)
    return value


def verified(request: ReceivedRequest) -> dict[str, Any]:
    """The event, once the Standard Webhooks library verified its signature and timestamp."""
    event: dict[str, Any] = Webhook(SECRET).verify(request.body, request.headers)
    return event


async def deliveries(api: AsyncTestClient[Any], import_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/imports/{import_id}/deliveries")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def settled_delivery(api: AsyncTestClient[Any], import_id: str) -> dict[str, Any]:
    """The import's one delivery once it is delivered or given up."""
    deadline = time.monotonic() + RETRY_FOR_SECONDS + 30
    while True:
        items = await deliveries(api, import_id)
        if items and items[0]["state"] in {"delivered", "failed"}:
            assert len(items) == 1, items
            return items[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"the delivery did not settle: {items}")
        await asyncio.sleep(0.2)


def ended_by_sql(stack: Stack, notify_url: str, status: str) -> str:
    """An import that was running and ends as the worker's SQL functions end one."""
    with stack.db() as db:
        import_id = insert_import(db, status="running", notify_url=notify_url)
        db.execute("UPDATE imports SET status = %s WHERE id = %s", (status, import_id))
    return import_id


async def test_a_completed_import_sends_one_signed_event(
    api: AsyncTestClient[Any], stack: Stack, receiver: WebhookReceiver
) -> None:
    path = "/ok/completed"
    notify_url = f"{receiver.base_url}{path}?team=7"
    import_id = await start_import(
        api, stack.drive.fixture.link("outside/folder"), notify_url=notify_url
    )
    result = await wait_for_import(api, import_id)
    assert result["status"] == "completed", result
    assert result["notify_url"] == notify_url

    delivery = await settled_delivery(api, import_id)
    # Another run of the periodic job (every 5 s) must find nothing more to send.
    await asyncio.sleep(6)
    [request] = receiver.requests(f"{path}?team=7")
    event = verified(request)
    assert request.headers["webhook-id"] == delivery["delivery_id"]
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("image-import-webhooks/")
    assert event["type"] == "import.completed"
    data = event["data"]
    assert data["import_id"] == import_id
    assert data["status"] == "completed"
    assert data["sync_id"] is None
    assert data["counts"] == result["counts"]
    assert data["bytes_imported"] == result["bytes_imported"]
    assert data["error"] is None
    assert data["finished_at"].endswith("Z")
    assert data["links"] == {
        "import": f"{PUBLIC_URL}/imports/{import_id}",
        "images": f"{PUBLIC_URL}/images?import_id={import_id}",
        "failures": f"{PUBLIC_URL}/imports/{import_id}/failures",
    }
    assert delivery["state"] == "delivered"
    assert delivery["event_type"] == "import.completed"
    assert [a["response_status"] for a in delivery["attempts"]] == [200]


async def test_a_cancelled_import_sends_one_cancelled_event(
    api: AsyncTestClient[Any], stack: Stack, receiver: WebhookReceiver
) -> None:
    path = "/ok/cancelled-by-api"
    with stack.db() as db:
        import_id = insert_import(db, status="queued", notify_url=f"{receiver.base_url}{path}")
    response = await api.post(f"/imports/{import_id}/cancel")
    assert response.status_code == 202, response.text

    delivery = await settled_delivery(api, import_id)
    [request] = receiver.requests(path)
    event = verified(request)
    assert event["type"] == "import.cancelled"
    assert event["data"]["status"] == "cancelled"
    assert delivery["state"] == "delivered"


async def test_an_import_cancelled_by_an_operators_sql_sends_its_event(
    api: AsyncTestClient[Any], stack: Stack, receiver: WebhookReceiver
) -> None:
    path = "/ok/cancelled-by-operator"
    with stack.db() as db:
        import_id = insert_import(db, status="running", notify_url=f"{receiver.base_url}{path}")
    ops(stack.database_url, "cancel_import.sql", import_id=import_id)

    await settled_delivery(api, import_id)
    [request] = receiver.requests(path)
    assert verified(request)["type"] == "import.cancelled"


async def test_a_failing_receiver_is_retried_and_each_attempt_is_visible(
    api: AsyncTestClient[Any], stack: Stack, receiver: WebhookReceiver
) -> None:
    path = "/flaky/2/failing-twice"
    import_id = ended_by_sql(stack, f"{receiver.base_url}{path}", "completed_with_errors")

    delivery = await settled_delivery(api, import_id)
    assert delivery["state"] == "delivered", delivery
    assert [a["response_status"] for a in delivery["attempts"]] == [500, 500, 200]
    assert [a["attempt"] for a in delivery["attempts"]] == [1, 2, 3]
    assert [a["error"] for a in delivery["attempts"]] == [
        "HTTP 500 Internal Server Error",
        "HTTP 500 Internal Server Error",
        None,
    ]
    requests = receiver.requests(path)
    assert len(requests) == 3
    # One event, however often it comes: the same id and body on every attempt.
    assert {r.headers["webhook-id"] for r in requests} == {delivery["delivery_id"]}
    assert len({r.body for r in requests}) == 1
    assert json.loads(requests[0].body)["type"] == "import.completed_with_errors"
    for request in requests:
        verified(request)

    with stack.db() as db:
        logged = db.execute(
            "SELECT attempt, response_status, state FROM webhook_delivery_log"
            " WHERE import_id = %s ORDER BY attempt",
            (import_id,),
        ).fetchall()
    assert logged == [(1, 500, "delivered"), (2, 500, "delivered"), (3, 200, "delivered")]
    rows = ops(stack.database_url, "webhook_deliveries.sql", import_id=import_id)
    assert [(r["attempt"], r["response_status"]) for r in rows] == [
        ("1", "500"),
        ("2", "500"),
        ("3", "200"),
    ]


async def test_retries_are_never_further_apart_than_the_maximum_backoff(
    api: AsyncTestClient[Any], stack: Stack, receiver: WebhookReceiver
) -> None:
    # The worker notices a due job only at its next poll (5 s); the retry must not wait for it.
    path = "/flaky/5/failing-five-times"
    import_id = ended_by_sql(stack, f"{receiver.base_url}{path}", "completed")

    gaps = await gaps_between_attempts(api, import_id, attempts=6)
    maximum = float(WORKER_ENV["WEBHOOK_RETRY_MAX_SECONDS"])
    assert all(gap <= maximum + 0.5 for gap in gaps), gaps


async def gaps_between_attempts(
    api: AsyncTestClient[Any], import_id: str, *, attempts: int
) -> list[float]:
    """Seconds between the starts of a delivered webhook's attempts, once it is delivered."""
    delivery = await settled_delivery(api, import_id)
    assert delivery["state"] == "delivered", delivery
    started = [datetime.fromisoformat(a["started_at"]) for a in delivery["attempts"]]
    assert len(started) == attempts
    return [(later - earlier).total_seconds() for earlier, later in pairwise(started)]


async def test_a_receiver_that_always_fails_is_given_up_after_the_retry_window(
    api: AsyncTestClient[Any], stack: Stack, receiver: WebhookReceiver
) -> None:
    path = "/down/always"
    import_id = ended_by_sql(stack, f"{receiver.base_url}{path}", "failed")

    delivery = await settled_delivery(api, import_id)
    assert delivery["state"] == "failed", delivery
    assert delivery["next_attempt_at"] is None
    assert delivery["last_error"].startswith(f"gave up after {len(delivery['attempts'])} attempts")
    assert delivery["last_error"].endswith("the last: HTTP 500 Internal Server Error")
    assert len(delivery["attempts"]) >= 2
    assert len(receiver.requests(path)) == len(delivery["attempts"])
    started = [a["started_at"] for a in delivery["attempts"]]
    assert started == sorted(started)
    rows = ops(stack.database_url, "webhook_deliveries.sql")
    assert any(r["import_id"] == import_id and r["state"] == "failed" for r in rows), rows


async def test_each_run_of_a_sync_sends_one_event_naming_the_sync(
    api: AsyncTestClient[Any], stack: Stack, receiver: WebhookReceiver
) -> None:
    path = "/ok/synced"
    response = await api.post(
        "/syncs",
        json={
            "url": stack.drive.fixture.link("webhook synced"),
            "every": "1h",
            "notify_url": f"{receiver.base_url}{path}",
        },
    )
    assert response.status_code == 201, response.text
    sync = response.json()
    first = sync["last_run"]["import_id"]
    await wait_for_import(api, first)
    await settled_delivery(api, first)
    second_run = await api.post(f"/syncs/{sync['sync_id']}/run")
    assert second_run.status_code == 202, second_run.text
    second = second_run.json()["import_id"]
    await wait_for_import(api, second)
    await settled_delivery(api, second)

    events = [verified(request) for request in receiver.requests(path)]
    assert [event["data"]["import_id"] for event in events] == [first, second]
    assert {event["data"]["sync_id"] for event in events} == {sync["sync_id"]}
    assert [event["data"]["counts"]["unchanged"] for event in events] == [0, 6]


async def test_a_sync_s_notify_url_is_checked_like_an_import_s(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    link = stack.drive.fixture.link("webhook synced")
    refused = await api.post(
        "/syncs",
        json={"url": link, "every": "1h", "notify_url": "http://169.254.169.254/latest/meta-data"},
    )
    assert refused.status_code == 422
    assert "169.254.169.254" in refused.json()["detail"]
    sync_id = (await api.get("/syncs")).json()["items"][0]["sync_id"]
    change = await api.patch(f"/syncs/{sync_id}", json={"notify_url": "http://10.0.0.5/hook"})
    assert change.status_code == 422
    assert "10.0.0.5" in change.json()["detail"]
    cleared = await api.patch(f"/syncs/{sync_id}", json={"notify_url": None})
    assert cleared.status_code == 200
    assert cleared.json()["notify_url"] is None
