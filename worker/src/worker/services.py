"""What every job needs, built once per worker process and handed to jobs through
Procrastinate's context (never module-level state)."""

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from procrastinate import JobContext

from worker.db import Pool
from worker.in_flight import InFlightLimit
from worker.settings import Settings
from worker.sources.base import SourceConnector
from worker.storage import ObjectStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    pool: Pool
    store: ObjectStore
    connectors: Mapping[str, SourceConnector]
    in_flight: InFlightLimit
    # Where images are decoded for their derivatives, at a lower CPU priority.
    derivative_threads: ThreadPoolExecutor


def services_of(context: JobContext) -> Services:
    services: Services = context.additional_context["services"]
    return services
