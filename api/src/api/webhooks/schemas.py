"""Response shapes of the webhook routes."""

from datetime import datetime
from typing import Literal

import msgspec

WebhookEventType = Literal[
    "import.completed", "import.completed_with_errors", "import.failed", "import.cancelled"
]
# pending: recorded, not yet queued; queued: being sent (retried until a 2xx); delivered: a 2xx
# came back; failed: given up (refused address, no secret, or WEBHOOK_RETRY_FOR_SECONDS over).
DeliveryState = Literal["pending", "queued", "delivered", "failed"]


class DeliveryAttempt(msgspec.Struct):
    attempt: int
    started_at: datetime
    duration_ms: int
    # The receiver's status code; null when no answer came (refused address, timeout...).
    response_status: int | None
    error: str | None


class Delivery(msgspec.Struct):
    # The event's `webhook-id`, the same on every attempt.
    delivery_id: str
    event_type: WebhookEventType
    url: str
    state: DeliveryState
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    attempts: list[DeliveryAttempt]


class DeliveryList(msgspec.Struct):
    items: list[Delivery]
