"""Source connectors, registered by the name stored in `imports.source`."""

import httpx

from worker.db import Pool
from worker.pacing import PostgresPacer, pacing_bucket
from worker.settings import Settings
from worker.sources.base import SourceConnector
from worker.sources.dropbox import DropboxConnector, authorization_header
from worker.sources.dropbox_zip import DropboxZipConnector
from worker.sources.google_drive import GoogleDriveConnector
from worker.sources.google_drive_web import GoogleDriveWebConnector


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

    # With an API key Drive is read through its documented API; without one, through the
    # public web pages. Either way the images are the same Drive files, stored under one source.
    drive: SourceConnector
    if settings.google_api_key:
        drive = GoogleDriveConnector(
            http,
            api_url=settings.google_drive_api_url,
            api_key=settings.google_api_key,
            page_size=settings.listing_page_size,
            pacer=pacer("google_drive", settings.google_api_key),
        )
    else:
        drive = GoogleDriveWebConnector(
            http,
            web_url=settings.google_drive_web_url,
            download_url=settings.google_drive_download_url,
            pacer=pacer("google_drive_web", None),
        )
    # With a token or an app's key and secret, Dropbox is read through its API; without, as the
    # zip its web link downloads. Either way the images are stored under one source.
    dropbox: SourceConnector
    authorization = authorization_header(
        settings.dropbox_access_token, settings.dropbox_app_key, settings.dropbox_app_secret
    )
    if authorization:
        dropbox = DropboxConnector(
            http,
            api_url=settings.dropbox_api_url,
            content_url=settings.dropbox_content_url,
            authorization=authorization,
            page_size=settings.listing_page_size,
            pacer=pacer("dropbox", authorization),
        )
    else:
        dropbox = DropboxZipConnector(
            http,
            web_url=settings.dropbox_web_url,
            zip_dir=settings.dropbox_zip_dir,
            page_size=settings.listing_page_size,
            pacer=pacer("dropbox_web", None),
        )
    return {"google_drive": drive, "dropbox": dropbox}
