"""Source connectors, registered by the name stored in `imports.source`."""

import httpx

from worker.db import Pool
from worker.pacing import PostgresPacer, pacing_bucket
from worker.settings import Settings
from worker.sources.base import SourceConnector
from worker.sources.google_drive import GoogleDriveConnector


def build_connectors(
    settings: Settings, http: httpx.AsyncClient, pool: Pool
) -> dict[str, SourceConnector]:
    def pacer(source: str, credential: str | None) -> PostgresPacer:
        return PostgresPacer(
            pool,
            pacing_bucket(source, credential),
            requests_per_second=settings.source_requests_per_second,
            burst=settings.source_burst,
        )

    return {
        "google_drive": GoogleDriveConnector(
            http,
            api_url=settings.google_drive_api_url,
            api_key=settings.google_api_key,
            page_size=settings.listing_page_size,
            pacer=pacer("google_drive", settings.google_api_key),
        ),
    }
