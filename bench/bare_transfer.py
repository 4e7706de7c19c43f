"""The bare-transfer floor: the worker's own connector and object store, and nothing else.

Lists a Drive folder, or any source's folder given as a link, recursively, and streams each
image into S3, verifying size and MD5 as the worker does, with 16 transfers at once: no job
queue, no database, no pacing. What an import costs above this is what the queue, the
database and the bookkeeping cost. Run as its own process (by bench/transfer_vs_rclone.py), so
its CPU can be measured:

    S3_ENDPOINT_URL=... S3_BUCKET=floor AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \\
    GOOGLE_API_KEY=... GOOGLE_DRIVE_API_URL=http://127.0.0.1:9100 \\
        python bench/bare_transfer.py <folder id>
    PUBLIC_S3_ALLOWED_NETWORKS=127.0.0.0/8 ... python bench/bare_transfer.py s3+http://.../b/p/

A link is read by the connector its source's registry entry names, built as the worker builds
it (without pacing); a bare id by the Drive connector with GOOGLE_API_KEY.

Prints one JSON line: files, bytes, elapsed and listed_after (seconds until the whole tree was
listed), and failures (which should be empty).
"""

import asyncio
import json
import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import uvloop
from aiohttp.abc import AbstractResolver

from domain.sources.google_drive import GoogleDriveSettings
from domain.sources.registry import load_registry
from worker.http_client import create_source_client
from worker.imports.listing import skip_reason
from worker.pacing import NoPacing
from worker.settings import Settings
from worker.sources.base import ConnectorDeps, FolderRef, ImportLink, SourceConnector, SourceFile
from worker.sources.connectors import connector_factory
from worker.sources.google_drive import GoogleDriveConnector
from worker.storage.object_store import ObjectStore

TRANSFERS = 16
_DONE = None


async def run(folder_id: str) -> dict[str, Any]:
    settings = Settings()
    store = ObjectStore(settings)
    started = time.monotonic()
    result: dict[str, Any] = {"files": 0, "bytes": 0, "failures": []}
    try:
        # The same client the worker builds.
        async with create_source_client(settings) as http, AsyncExitStack() as clients:
            reader, source, root = connector_for(folder_id, http, settings, clients)
            await reader.check_folder(root)
            # Unbounded, so listing runs at its own speed and listed_after means something.
            queue: asyncio.Queue[SourceFile | None] = asyncio.Queue()

            async def transfer() -> None:
                while (file := await queue.get()) is not _DONE:
                    try:
                        async with reader.open_file(file) as chunks:
                            stored = await store.upload(
                                ObjectStore.key_for(source, file.file_id),
                                chunks,
                                content_type=file.mime_type,
                                expected_size=file.size,
                                expected_checksums=file.checksums,
                            )
                    except Exception as exc:  # recorded and reported, as the worker records it
                        result["failures"].append(f"{file.file_id}: {exc!r}")
                        continue
                    result["files"] += 1
                    result["bytes"] += stored.size

            workers = [asyncio.create_task(transfer()) for _ in range(TRANSFERS)]
            folders = [root]
            while folders:
                folder = folders.pop()
                token: str | None = None
                while True:
                    page = await reader.list_page(folder, token)
                    folders.extend(page.folders)
                    for file in page.files:
                        if skip_reason(file, settings.max_file_bytes) is None:
                            await queue.put(file)
                    token = page.next_page_token
                    if token is None:
                        break
            result["listed_after"] = time.monotonic() - started
            for _ in workers:
                await queue.put(_DONE)
            await asyncio.gather(*workers)
    finally:
        await store.aclose()
    result["elapsed"] = time.monotonic() - started
    return result


def connector_for(
    folder: str, http: Any, settings: Settings, clients: AsyncExitStack
) -> tuple[SourceConnector, str, FolderRef]:
    """The connector that reads `folder` (a link, or a Drive folder id), its source's name and
    the root folder; the clients it makes of its own close with `clients`."""
    if "://" in folder:
        spec, locator = load_registry().detect(folder)

        def client_with_resolver(resolver: Callable[[], AbstractResolver]) -> httpx.AsyncClient:
            # As the worker builds it (worker/sources/connectors.py).
            client = create_source_client(settings, resolver=resolver, follow_redirects=False)
            clients.push_async_callback(client.aclose)
            return client

        deps = ConnectorDeps(
            http=http,
            pacer=lambda *_: NoPacing(),
            page_size=settings.listing_page_size,
            client_with_resolver=client_with_resolver,
        )
        connector = connector_factory(spec)(spec.settings_type(), deps)
        return connector.for_link(ImportLink(locator)), spec.name, locator.root()
    # The connector's own settings (GOOGLE_*), as the worker reads them.
    drive_settings = GoogleDriveSettings()
    drive = GoogleDriveConnector(
        http,
        api_url=drive_settings.drive_api_url,
        api_key=drive_settings.api_key,
        page_size=settings.listing_page_size,
        pacer=NoPacing(),
    )
    return drive, "google_drive", FolderRef(folder)


def main() -> None:
    # The worker's own event loop (worker/__main__.py).
    print(json.dumps(uvloop.run(run(sys.argv[1]))), flush=True)


if __name__ == "__main__":
    main()
