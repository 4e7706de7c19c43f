"""The bare-transfer floor: the worker's own Drive connector and object store, and nothing else.

Lists a Drive folder (recursively) and streams each image into S3, verifying size and MD5 as the
worker does, with 16 transfers at once: no job queue, no database, no pacing. What an import
costs above this is what the queue, the database and the bookkeeping cost. Run as its own
process (by bench/transfer_vs_rclone.py), so its CPU can be measured:

    S3_ENDPOINT_URL=... S3_BUCKET=floor AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \\
    GOOGLE_API_KEY=... GOOGLE_DRIVE_API_URL=http://127.0.0.1:9100 \\
        python bench/bare_transfer.py <folder id>

Prints one JSON line: files, bytes, elapsed and listed_after (seconds until the whole tree was
listed), and failures (which should be empty).
"""

import asyncio
import json
import sys
import time
from typing import Any

import uvloop

from domain.sources.google_drive import GoogleDriveSettings
from worker.http_client import create_source_client
from worker.imports.listing import skip_reason
from worker.pacing import NoPacing
from worker.settings import Settings
from worker.sources.base import FolderRef, SourceFile
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
        async with create_source_client(settings) as http:
            # The connector's own settings (GOOGLE_*), as the worker reads them.
            drive_settings = GoogleDriveSettings()
            drive = GoogleDriveConnector(
                http,
                api_url=drive_settings.drive_api_url,
                api_key=drive_settings.api_key,
                page_size=settings.listing_page_size,
                pacer=NoPacing(),
            )
            root = FolderRef(folder_id)
            await drive.check_folder(root)
            # Unbounded, so listing runs at its own speed and listed_after means something.
            queue: asyncio.Queue[SourceFile | None] = asyncio.Queue()

            async def transfer() -> None:
                while (file := await queue.get()) is not _DONE:
                    try:
                        async with drive.open_file(file) as chunks:
                            stored = await store.upload(
                                ObjectStore.key_for("google_drive", file.file_id),
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
                    page = await drive.list_page(folder, token)
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


def main() -> None:
    # The worker's own event loop (worker/__main__.py).
    print(json.dumps(uvloop.run(run(sys.argv[1]))), flush=True)


if __name__ == "__main__":
    main()
