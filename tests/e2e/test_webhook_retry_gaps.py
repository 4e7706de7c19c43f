"""Webhook retries keep to WEBHOOK_RETRY_MAX_SECONDS when it is longer than the webhooks'
worker's poll: the retried job is picked up early and waits for the attempt itself, where it
used to wait for the worker's next poll (gaps of 4.2 to 5.0 s with a 4 s maximum). The real
stack, with the settings the outside tester used (base 1 s, maximum 4 s)."""

from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import Stack
from tests.e2e.test_webhooks import SECRET, ended_by_sql, gaps_between_attempts
from tests.webhook_receiver import WebhookReceiver
from worker.webhooks.delivery import POLL_SECONDS

MAXIMUM = 4.0
WORKER_ENV = {
    "WEBHOOK_SECRET": SECRET,
    "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
    "WEBHOOK_RETRY_BASE_SECONDS": "1",
    "WEBHOOK_RETRY_MAX_SECONDS": str(MAXIMUM),
    "WEBHOOK_RETRY_FOR_SECONDS": "120",
}
API_SETTINGS = {"webhook_allowed_networks": ["127.0.0.1/32"]}


async def test_retries_longer_than_a_poll_are_never_late(
    api: AsyncTestClient[Any], stack: Stack, receiver: WebhookReceiver
) -> None:
    assert MAXIMUM > POLL_SECONDS  # so that some retries go back to the queue
    path = "/flaky/5/tester-settings"
    import_id = ended_by_sql(stack, f"{receiver.base_url}{path}", "completed")

    gaps = await gaps_between_attempts(api, import_id, attempts=6)
    assert all(gap <= MAXIMUM + 0.5 for gap in gaps), gaps
