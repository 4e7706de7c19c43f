"""Webhook deliveries by the worker's own functions, on a real PostgreSQL: the signature is the
Standard Webhooks one, an address the worker's policy refuses is never sent to (whatever the
API allowed when the URL was submitted), and a delivered event is never sent again."""

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
import pytest
from procrastinate.jobs import Job
from pydantic import SecretStr
from standardwebhooks import Webhook

from tests.api.factories import insert_import
from tests.webhook_receiver import WebhookReceiver
from worker.db import create_pool
from worker.http_client import create_webhook_client
from worker.retry import WebhookDeliveryRetry
from worker.services import Services
from worker.settings import Settings, webhook_signing_key
from worker.webhooks import delivery as webhooks

# The test vector of the Standard Webhooks specification (and of its reference libraries).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_reproduces_the_specifications_test_vector() -> None:
    key = webhook_signing_key(SecretStr(SPEC_SECRET))
    assert webhooks.sign(key, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_a_secret_that_is_not_a_standard_webhooks_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="must start with whsec_"):
        Settings(webhook_secret="hunter2")
    with pytest.raises(ValueError, match="24 to 64 random bytes, not 3"):
        Settings(webhook_secret="whsec_" + base64.b64encode(b"abc").decode())


def test_the_event_carries_the_import_as_it_ended_with_links_under_the_public_url() -> None:
    created = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    delivery = {
        "import_id": "0b7c1f38-4a8d-4d5e-9a51-1b1f0c6f6e11",
        "event_type": "import.completed",
        "created_at": created,
        "payload": {"import_id": "0b7c1f38-4a8d-4d5e-9a51-1b1f0c6f6e11", "status": "completed"},
    }
    body = webhooks.event_body(delivery, "https://images.example.com/")
    assert body == (
        b'{"type":"import.completed","timestamp":"2026-01-02T03:04:05.678000Z",'
        b'"data":{"import_id":"0b7c1f38-4a8d-4d5e-9a51-1b1f0c6f6e11","status":"completed",'
        b'"links":{"import":"https://images.example.com/imports/0b7c1f38-4a8d-4d5e-9a51-1b1f0c6f6e11",'
        b'"images":"https://images.example.com/images?import_id=0b7c1f38-4a8d-4d5e-9a51-1b1f0c6f6e11",'
        b'"failures":"https://images.example.com/imports/0b7c1f38-4a8d-4d5e-9a51-1b1f0c6f6e11/failures"}}}'
    )
    relative = webhooks.event_body(delivery, None)
    assert b'"import":"/imports/0b7c1f38-4a8d-4d5e-9a51-1b1f0c6f6e11"' in relative


async def worker_services(settings: Settings) -> AsyncIterator[Services]:
    pool = create_pool(settings)
    await pool.open(wait=True)
    try:
        async with create_webhook_client(settings) as http:
            # Only what a delivery uses: the settings, the pool and the webhook client.
            yield Services(
                settings=settings,
                pool=pool,
                store=cast(Any, None),
                sources=cast(Any, None),
                connectors={},
                in_flight=cast(Any, None),
                derivative_threads=cast(Any, None),
                webhook_http=http,
            )
    finally:
        await pool.close()


def ended_import_delivery(database_url: str, notify_url: str) -> str:
    """An import with this notify_url that ran and completed; its delivery, claimed as the
    worker's periodic job claims it."""
    with psycopg.connect(database_url, autocommit=True) as db:
        import_id = insert_import(db, status="running", notify_url=notify_url)
        db.execute("UPDATE imports SET status = 'completed' WHERE id = %s", (import_id,))
        row = db.execute(
            "UPDATE webhook_deliveries SET state = 'queued' WHERE import_id = %s RETURNING id",
            (import_id,),
        ).fetchone()
    assert row is not None
    return str(row[0])


def delivery_and_attempts(database_url: str, delivery_id: str) -> tuple[Any, list[Any]]:
    with psycopg.connect(database_url, autocommit=True) as db:
        delivery = db.execute(
            "SELECT state, attempts, last_error FROM webhook_deliveries WHERE id = %s",
            (delivery_id,),
        ).fetchone()
        attempts = db.execute(
            "SELECT attempt, response_status, error FROM webhook_attempts"
            " WHERE delivery_id = %s ORDER BY attempt",
            (delivery_id,),
        ).fetchall()
    return delivery, attempts


async def test_a_name_resolving_to_loopback_is_refused_at_delivery_when_not_allowed(
    database_url: str, receiver: WebhookReceiver
) -> None:
    # As if the API had allowed the URL (its own allow-list, or DNS that answered otherwise
    # then): the worker's policy decides on what the name resolves to now.
    notify_url = f"http://localhost:{receiver.port}/ok/refused-at-delivery"
    delivery_id = ended_import_delivery(database_url, notify_url)
    settings = Settings(database_url=database_url, webhook_secret=SPEC_SECRET)
    async for services in worker_services(settings):
        await webhooks.deliver(services, delivery_id)

    (state, attempts, last_error), rows = delivery_and_attempts(database_url, delivery_id)
    assert (state, attempts) == ("failed", 1)
    assert last_error.startswith("refused: localhost resolves to ")
    assert "a loopback address; WEBHOOK_ALLOWED_NETWORKS allows none" in last_error
    assert rows == [(1, None, last_error)]
    assert receiver.requests("/ok/refused-at-delivery") == []


async def test_without_a_secret_nothing_is_sent_and_the_delivery_says_why(
    database_url: str, receiver: WebhookReceiver
) -> None:
    delivery_id = ended_import_delivery(database_url, f"{receiver.base_url}/ok/unsigned")
    settings = Settings(database_url=database_url, webhook_allowed_networks=["127.0.0.1/32"])
    async for services in worker_services(settings):
        await webhooks.deliver(services, delivery_id)

    (state, attempts, last_error), _ = delivery_and_attempts(database_url, delivery_id)
    assert (state, attempts) == ("failed", 1)
    assert "WEBHOOK_SECRET is not set" in last_error
    assert receiver.requests("/ok/unsigned") == []


async def test_a_delivered_event_is_never_sent_again_by_a_rerun_job(
    database_url: str, receiver: WebhookReceiver
) -> None:
    delivery_id = ended_import_delivery(database_url, f"{receiver.base_url}/ok/once")
    settings = Settings(
        database_url=database_url,
        webhook_secret=SPEC_SECRET,
        webhook_allowed_networks=["127.0.0.1/32"],
    )
    async for services in worker_services(settings):
        await webhooks.deliver(services, delivery_id)
        await webhooks.deliver(services, delivery_id)

    (state, attempts, _), rows = delivery_and_attempts(database_url, delivery_id)
    assert (state, attempts) == ("delivered", 1)
    assert rows == [(1, 200, None)]
    [request] = receiver.requests("/ok/once")
    assert request.headers["webhook-id"] == delivery_id
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
    event = Webhook(SPEC_SECRET).verify(request.body, request.headers)
    assert event["type"] == "import.completed"


async def test_a_redirect_is_not_followed_and_counts_as_a_failed_attempt(
    database_url: str, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One attempt, whatever the jitter: none is waited for in the job.
    monkeypatch.setattr(webhooks, "POLL_SECONDS", 0.0)
    delivery_id = ended_import_delivery(database_url, f"{receiver.base_url}/redirect/x")
    settings = Settings(
        database_url=database_url,
        webhook_secret=SPEC_SECRET,
        webhook_allowed_networks=["127.0.0.1/32"],
    )
    async for services in worker_services(settings):
        with pytest.raises(webhooks.WebhookAttemptFailed):
            await webhooks.deliver(services, delivery_id)

    (state, attempts, last_error), _ = delivery_and_attempts(database_url, delivery_id)
    assert (state, attempts) == ("queued", 1)
    assert last_error == (
        "HTTP 302, a redirect to http://elsewhere.example/hook: redirects are not followed"
    )


async def test_a_delivery_whose_import_was_deleted_ends_doing_nothing(
    database_url: str, receiver: WebhookReceiver
) -> None:
    delivery_id = ended_import_delivery(database_url, f"{receiver.base_url}/ok/deleted")
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute(
            "DELETE FROM imports WHERE id = "
            "(SELECT import_id FROM webhook_deliveries WHERE id = %s)",
            (delivery_id,),
        )
    settings = Settings(
        database_url=database_url,
        webhook_secret=SPEC_SECRET,
        webhook_allowed_networks=["127.0.0.1/32"],
    )
    async for services in worker_services(settings):
        await webhooks.deliver(services, delivery_id)
    assert receiver.requests("/ok/deleted") == []


def test_the_database_failing_around_an_attempt_is_retried_however_many_attempts_were_made() -> (
    None
):
    job = Job(id=1, queue="webhooks", lock=None, queueing_lock=None, task_name="x", attempts=40)
    retry = WebhookDeliveryRetry()
    decision = retry.get_retry_decision(
        exception=psycopg.OperationalError("the database is away"), job=job
    )
    assert decision is not None
    assert retry.get_retry_decision(exception=KeyError("a bug"), job=job) is None


async def test_an_attempt_due_within_a_poll_is_made_in_the_same_job(
    database_url: str, receiver: WebhookReceiver
) -> None:
    # The worker would notice a retried job only at its next poll: a wait shorter than that is
    # waited out in the job, so the attempts keep to the backoff.
    delivery_id = ended_import_delivery(database_url, f"{receiver.base_url}/flaky/2/in-job")
    settings = Settings(
        database_url=database_url,
        webhook_secret=SPEC_SECRET,
        webhook_allowed_networks=["127.0.0.1/32"],
        webhook_retry_base_seconds=0.2,
        webhook_retry_max_seconds=webhooks.POLL_SECONDS,
    )
    async for services in worker_services(settings):
        await webhooks.deliver(services, delivery_id)

    (state, attempts, _), rows = delivery_and_attempts(database_url, delivery_id)
    assert (state, attempts) == ("delivered", 3)
    assert [status for _, status, _ in rows] == [500, 500, 200]
