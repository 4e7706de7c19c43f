"""Webhooks as the API sees them: the check of a submitted notify_url, and an import's
deliveries."""

from collections.abc import Sequence
from datetime import datetime

from api.errors import InvalidInput, NotFound
from api.ids import parse_id
from api.webhooks.schemas import Delivery, DeliveryAttempt, DeliveryList
from domain.address_policy import IPNetwork
from domain.db import Connection
from domain.imports import repository as import_rows
from domain.webhooks import repository
from domain.webhooks.address_policy import RefusedUrl, check_submitted_url

# An import has one delivery per time it ended (a retry that ends it again adds one): a few.
MAX_DELIVERIES_LISTED = 100


async def check_notify_url(url: str, allowed: Sequence[IPNetwork]) -> str:
    """The notify_url as given, when the address policy (domain.webhooks.address_policy) allows it
    now; InvalidInput naming the refused address otherwise. The worker checks again at each
    delivery, on what the host resolves to then."""
    try:
        await check_submitted_url(url, allowed)
    except RefusedUrl as exc:
        raise InvalidInput(f"notify_url: {exc}", field="notify_url") from None
    return url


async def list_deliveries(conn: Connection, import_id: str) -> DeliveryList:
    parsed_id = parse_id(import_id, "import")
    if not await import_rows.import_exists(conn, parsed_id):
        raise NotFound(f"no import with id {import_id}")
    rows = await repository.list_deliveries(conn, parsed_id, limit=MAX_DELIVERIES_LISTED)
    return DeliveryList(
        items=[
            Delivery(
                delivery_id=str(row["id"]),
                event_type=row["event_type"],
                url=row["url"],
                state=row["state"],
                created_at=row["created_at"],
                delivered_at=row["delivered_at"],
                next_attempt_at=row["next_attempt_at"],
                last_error=row["last_error"],
                attempts=[
                    DeliveryAttempt(
                        attempt=a["attempt"],
                        started_at=datetime.fromisoformat(a["started_at"]),
                        duration_ms=a["duration_ms"],
                        response_status=a["response_status"],
                        error=a["error"],
                    )
                    for a in row["attempts"]
                ],
            )
            for row in rows
        ]
    )
