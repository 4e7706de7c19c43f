"""What every job needs, built once per worker process and handed to jobs through
Procrastinate's context (never module-level state)."""

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from procrastinate import JobContext

from domain.sources.registry import Registry
from worker.db import Pool
from worker.in_flight import InFlightLimit
from worker.settings import Settings
from worker.sources.base import ImportLink, SourceConnector
from worker.storage.object_store import ObjectStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    pool: Pool
    store: ObjectStore
    sources: Registry
    connectors: Mapping[str, SourceConnector]
    in_flight: InFlightLimit
    # Where images are decoded for their derivatives, at a lower CPU priority.
    derivative_threads: ThreadPoolExecutor
    # Webhook deliveries only: a plain httpx client that reads no proxy from the environment.
    webhook_http: httpx.AsyncClient

    def link_of(self, row: Mapping[str, Any]) -> ImportLink:
        """The import's link as its source's typed locator, from a row with the import's
        `source`, `locator` and `link_password`."""
        spec = self.sources.get(row["source"])
        return ImportLink(spec.locator_from_json(row["locator"]), row["link_password"])

    def connector_for(self, row: Mapping[str, Any]) -> SourceConnector:
        """The connector of the import's source, reading the import's link."""
        return self.connectors[row["source"]].for_link(self.link_of(row))


def services_of(context: JobContext) -> Services:
    services: Services = context.additional_context["services"]
    return services
