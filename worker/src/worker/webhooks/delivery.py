"""Webhooks: telling an import's notify_url that the import ended, as a Standard Webhooks event
(https://www.standardwebhooks.com: `webhook-id`, `webhook-timestamp` and an HMAC-SHA256
`webhook-signature` over "{id}.{timestamp}.{body}", made by the specification's own library).

The database records one delivery per ended import (a trigger, migrations/schema/webhooks.sql);
here they are queued as jobs and sent. Each attempt is recorded with what came back; a 2xx
delivers, any other answer (a redirect too: none is followed) or none is retried with backoff
until WEBHOOK_RETRY_FOR_SECONDS after the import ended, and an address the policy refuses
(domain.webhooks.address_policy) fails the delivery at once.

A retry is the job's own, never the periodic queueing job's. A worker notices a retried job
that became due only at its next poll (Procrastinate notifies workers of new jobs, not of
retried ones), up to POLL_SECONDS late; so a retry is scheduled that much before the attempt
is due and the job sleeps out the rest, and an attempt due sooner than that is waited for in
the job itself. The gap between two attempts is then the backoff's, at most
WEBHOOK_RETRY_MAX_SECONDS, and no job holds a slot asleep for longer than POLL_SECONDS."""

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from standardwebhooks import Webhook

from domain.address_policy import IPAddress
from domain.webhooks import repository as webhook_repository
from domain.webhooks.address_policy import NotifyUrl, RefusedUrl, checked_addresses
from domain.webhooks.address_policy import parse_notify_url as parse_url
from worker import jobs
from worker.http_client import retry_after_seconds
from worker.periodic import take_and_queue
from worker.retry import WebhookAttemptFailed, backoff_seconds
from worker.services import Services
from worker.settings import Settings, webhook_signing_key

log = logging.getLogger("worker.webhooks")

USER_AGENT = "image-import-webhooks/0.1 (+https://www.standardwebhooks.com)"
# Deliveries one run of the periodic job queues; the rest wait for its next run.
DELIVERIES_PER_RUN = 500
# The webhooks' worker looks for due jobs this often (__main__.procrastinate_workers): how
# late it may notice a retried delivery, and how early the retry is scheduled.
POLL_SECONDS = 1.0
UNSIGNED_REFUSAL = (
    "not sent: WEBHOOK_SECRET is not set on the worker, and an unsigned event could be forged"
    " by anyone; set it (whsec_...) and reset the delivery to pending to send it"
)


async def queue_pending_deliveries(services: Services) -> int:
    """Queue a `webhook.deliver` job for each pending delivery, in the transaction that marks
    them queued: a rollback leaves them pending, a commit never loses one."""
    delivery_ids = await take_and_queue(
        services,
        lambda conn: webhook_repository.claim_pending_deliveries(conn, DELIVERIES_PER_RUN),
        jobs.defer_webhook_deliveries,
    )
    for delivery_id in delivery_ids:
        log.info("webhook.queued delivery_id=%s", delivery_id)
    return len(delivery_ids)


@dataclass(frozen=True)
class AttemptOutcome:
    """What one attempt came to: delivered, or why not and whether to try again."""

    delivered: bool
    response_status: int | None = None
    error: str | None = None
    # The receiver's Retry-After, in seconds (429 and 503).
    retry_after: float | None = None
    # Never worth another attempt (the policy refused the address; no secret to sign with).
    permanent: bool = False


async def deliver(services: Services, delivery_id: str) -> None:
    """Attempts at a delivery until one is not due within POLL_SECONDS. Each is recorded
    whatever happens; WebhookAttemptFailed when another attempt is due (the job's retry runs it
    then). A delivery that is gone (its import was deleted), delivered or given up already is
    left alone: a re-run never sends twice."""
    while True:
        async with services.pool.connection() as conn:
            delivery = await webhook_repository.get_delivery(conn, delivery_id)
        if delivery is None or delivery["state"] != "queued":
            log.info(
                "webhook.skipped delivery_id=%s state=%s",
                delivery_id,
                "gone" if delivery is None else delivery["state"],
            )
            return
        await _wait_until_due(delivery["next_attempt_at"])
        started_at = datetime.now(UTC)
        started = time.monotonic()
        outcome = await attempt(services.webhook_http, services.settings, delivery)
        duration_ms = round((time.monotonic() - started) * 1000)
        next_attempt_at = await _record(services, delivery, outcome, started_at, duration_ms)
        if next_attempt_at is None:
            return
        pick_up_at = next_attempt_at - timedelta(seconds=POLL_SECONDS)
        if pick_up_at > datetime.now(UTC):
            raise WebhookAttemptFailed(outcome.error or "not delivered", pick_up_at)


async def attempt(
    client: httpx.AsyncClient, settings: Settings, delivery: dict[str, Any]
) -> AttemptOutcome:
    """Sign and send the delivery's event once, to an address the policy allows."""
    if settings.webhook_secret is None:
        return AttemptOutcome(delivered=False, error=UNSIGNED_REFUSAL, permanent=True)
    try:
        target = parse_url(delivery["url"])
    except RefusedUrl as exc:
        return AttemptOutcome(delivered=False, error=str(exc), permanent=True)
    try:
        addresses = await checked_addresses(target, settings.webhook_networks())
    except RefusedUrl as exc:
        return AttemptOutcome(delivered=False, error=str(exc), permanent=True)
    except OSError as exc:
        return AttemptOutcome(delivered=False, error=f"{target.host} does not resolve: {exc}")
    body = event_body(delivery, settings.api_public_url)
    key = webhook_signing_key(settings.webhook_secret)
    try:
        async with asyncio.timeout(settings.webhook_timeout_seconds):
            return await _send(client, target, addresses[0], str(delivery["id"]), body, key)
    except TimeoutError:
        return AttemptOutcome(
            delivered=False,
            error=f"no answer within {settings.webhook_timeout_seconds:g} s",
        )
    except httpx.HTTPError as exc:
        return AttemptOutcome(delivered=False, error=f"no answer: {_describe(exc)}")


async def _send(
    client: httpx.AsyncClient,
    target: NotifyUrl,
    address: IPAddress,
    webhook_id: str,
    body: bytes,
    key: bytes,
) -> AttemptOutcome:
    # To the address that was checked, never to the name: a second lookup could answer with
    # another address (DNS rebinding). The name still goes in Host, and in TLS's SNI so that
    # the certificate is verified for it.
    url = httpx.URL(
        scheme=target.scheme,
        host=str(address),
        port=target.port,
        raw_path=target.target.encode(),
    )
    timestamp = int(time.time())
    headers = {
        "host": target.host_header,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, webhook_id, timestamp, body),
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    request = client.build_request(
        "POST", url, content=body, headers=headers, extensions=extensions
    )
    # Streamed and closed unread: what the receiver says beyond its status is not ours to
    # download.
    response = await client.send(request, stream=True, follow_redirects=False)
    await response.aclose()
    status = response.status_code
    if 200 <= status < 300:
        return AttemptOutcome(delivered=True, response_status=status)
    if 300 <= status < 400:
        location = response.headers.get("location", "no Location")
        error = f"HTTP {status}, a redirect to {location}: redirects are not followed"
        return AttemptOutcome(delivered=False, response_status=status, error=error)
    retry_after = retry_after_seconds(response) if status in (429, 503) else None
    return AttemptOutcome(
        delivered=False,
        response_status=status,
        error=f"HTTP {status} {response.reason_phrase}".strip(),
        retry_after=retry_after,
    )


async def _record(
    services: Services,
    delivery: dict[str, Any],
    outcome: AttemptOutcome,
    started_at: datetime,
    duration_ms: int,
) -> datetime | None:
    """Record the attempt; when another is due, when."""
    settings = services.settings
    delivery_id = str(delivery["id"])
    next_attempt_at: datetime | None = None
    error = outcome.error
    if outcome.delivered:
        state = "delivered"
    elif outcome.permanent:
        state = "failed"
    else:
        wait = backoff_seconds(
            delivery["attempts"],
            settings.webhook_retry_base_seconds,
            settings.webhook_retry_max_seconds,
        )
        if outcome.retry_after is not None:
            wait = max(wait, min(outcome.retry_after, settings.webhook_retry_max_seconds))
        next_attempt_at = datetime.now(UTC) + timedelta(seconds=wait)
        give_up_at = delivery["created_at"] + timedelta(seconds=settings.webhook_retry_for_seconds)
        if next_attempt_at > give_up_at:
            state, next_attempt_at = "failed", None
            error = (
                f"gave up after {delivery['attempts'] + 1} attempts over "
                f"WEBHOOK_RETRY_FOR_SECONDS ({settings.webhook_retry_for_seconds:g} s); "
                f"the last: {outcome.error}"
            )
        else:
            state = "queued"
    async with services.pool.connection() as conn, conn.transaction():
        attempt_number = await webhook_repository.record_attempt(
            conn,
            delivery_id,
            started_at=started_at,
            duration_ms=duration_ms,
            response_status=outcome.response_status,
            error=error,
            state=state,
            next_attempt_at=next_attempt_at,
        )
    log.info(
        "webhook.attempt delivery_id=%s import_id=%s attempt=%s status=%s state=%s error=%s",
        delivery_id,
        delivery["import_id"],
        attempt_number,
        outcome.response_status,
        state,
        error,
    )
    return next_attempt_at if state == "queued" and attempt_number is not None else None


async def _wait_until_due(next_attempt_at: datetime | None) -> None:
    """Sleep until the attempt is due, for at most POLL_SECONDS: the job was picked up early
    on purpose (a re-run after an interruption goes at once, as before)."""
    if next_attempt_at is None:
        return
    wait = (next_attempt_at - datetime.now(UTC)).total_seconds()
    if wait > 0:
        await asyncio.sleep(min(wait, POLL_SECONDS))


async def fail_delivery(services: Services, delivery_id: str, reason: str) -> None:
    """Give a queued delivery up without another attempt (its job failed for good)."""
    async with services.pool.connection() as conn:
        await webhook_repository.give_up_delivery(conn, delivery_id, reason)


def event_body(delivery: dict[str, Any], api_public_url: str | None) -> bytes:
    """The event as sent: the same bytes on every attempt (the snapshot the import left when
    it ended, and the time it ended), so a receiver sees one event however often it comes."""
    payload: dict[str, Any] = delivery["payload"]
    import_id = str(delivery["import_id"])
    base = (api_public_url or "").rstrip("/")
    data = {
        **payload,
        "links": {
            "import": f"{base}/imports/{import_id}",
            "images": f"{base}/images?import_id={import_id}",
            "failures": f"{base}/imports/{import_id}/failures",
        },
    }
    event = {
        "type": delivery["event_type"],
        "timestamp": _iso(delivery["created_at"]),
        "data": data,
    }
    return json.dumps(event, separators=(",", ":")).encode()


def sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: `v1,` and the base64 HMAC-SHA256 of
    "{webhook-id}.{webhook-timestamp}.{body}", by the Standard Webhooks library (the one
    receivers verify with), never a signature of our own making."""
    return Webhook(key).sign(webhook_id, datetime.fromtimestamp(timestamp, UTC), body)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
