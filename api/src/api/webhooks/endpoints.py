"""HTTP routes for the webhooks imports send when they end."""

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from api.error_responses import error_responses
from api.webhooks import service
from api.webhooks.schemas import DeliveryList
from domain.db import Connection


class WebhookController(Controller):
    tags = ["webhooks"]

    @get(
        "/imports/{import_id:str}/deliveries",
        responses=error_responses(401, 404),
    )
    async def list_import_deliveries(
        self, import_id: FromPath[str], conn: NamedDependency[Connection]
    ) -> DeliveryList:
        """The webhooks the import sent to its notify_url when it ended, newest first, each
        with every attempt and what came back."""
        return await service.list_deliveries(conn, import_id)
