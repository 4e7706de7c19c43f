"""Source connectors, registered by the name stored in `imports.source`."""

import httpx

from worker.settings import Settings
from worker.sources.base import SourceConnector
from worker.sources.google_drive import GoogleDriveConnector


def build_connectors(settings: Settings, http: httpx.AsyncClient) -> dict[str, SourceConnector]:
    return {
        "google_drive": GoogleDriveConnector(
            http,
            api_url=settings.google_drive_api_url,
            api_key=settings.google_api_key,
            page_size=settings.listing_page_size,
        ),
    }
