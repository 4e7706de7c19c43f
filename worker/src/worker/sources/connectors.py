"""The worker's connectors, one per registered source, built once per process."""

import httpx

from worker.db import Pool
from worker.pacing import PostgresPacer, pacing_bucket
from worker.settings import Settings
from worker.sources.base import SourceConnector
from worker.sources.registry import ConnectorDeps, Registry


def build_connectors(
    registry: Registry, settings: Settings, http: httpx.AsyncClient, pool: Pool
) -> dict[str, SourceConnector]:
    def pacer(bucket: str, credential: str | None) -> PostgresPacer:
        return PostgresPacer(
            pool,
            pacing_bucket(bucket, credential),
            requests_per_second=settings.source_requests_per_second,
            burst=settings.source_burst,
        )

    deps = ConnectorDeps(http=http, pacer=pacer, page_size=settings.listing_page_size)
    # Each source reads its own settings, from the environment under its own prefix.
    return {spec.name: spec.build_connector(spec.settings_type(), deps) for spec in registry}
