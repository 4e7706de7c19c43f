"""Transfers, planned and queued: a listing page queues its new images as batches of files
(batch_run.py runs a batch), and files a retry put back to pending are queued again here.
A file's download is cut off past MAX_FILE_BYTES here too.

What became of each file is in import_files, so every step can run twice (a re-run of a batch,
a killed worker) without storing, counting or queueing anything twice: a batch only ever looks
at its files still pending.
"""

import logging
from collections.abc import AsyncIterator

from domain.db import Connection
from domain.imports import files as import_files
from worker import jobs
from worker.periodic import take_and_queue
from worker.services import Services
from worker.sources.base import PermanentSourceError

log = logging.getLogger("worker.transfers")


def plan_batches(
    files: list[tuple[str, int | None]],
    *,
    max_files: int,
    max_bytes: int,
    alone_from_bytes: int,
) -> list[list[str]]:
    """Group files (id, announced size) into batches of at most `max_files` and about
    `max_bytes` (a batch closes before the file that would take it over); a file of
    `alone_from_bytes` or more gets a batch of its own."""
    batches: list[list[str]] = []
    current: list[str] = []
    current_bytes = 0
    for file_id, size in files:
        if size is not None and size >= alone_from_bytes:
            batches.append([file_id])
            continue
        if current and (len(current) >= max_files or current_bytes + (size or 0) > max_bytes):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(file_id)
        current_bytes += size or 0
    if current:
        batches.append(current)
    return batches


async def defer_transfers(
    services: Services,
    conn: Connection,
    import_id: str,
    files: list[tuple[str, int | None]],
    *,
    listed_before: int = 0,
) -> None:
    """Queue `files` of an import as transfer batches, on the caller's transaction, in their
    turn after the import's first `listed_before` files."""
    settings = services.settings
    batches = plan_batches(
        files,
        max_files=settings.transfer_batch_files,
        max_bytes=settings.transfer_batch_bytes,
        alone_from_bytes=settings.s3_multipart_threshold_bytes,
    )
    await jobs.defer_transfer_batches(conn, import_id, batches, listed_before=listed_before)


async def defer_by_import(
    services: Services, conn: Connection, by_import: dict[str, list[tuple[str, int | None]]]
) -> None:
    for import_id, files in by_import.items():
        await defer_transfers(services, conn, import_id, files)


# Requeued files one job queues at most; more wait for the next run (seconds later).
REQUEUES_PER_RUN = 20_000


async def queue_requeued_files(services: Services) -> int:
    """Queue transfer batches for the files a retry put back to pending (by the API or an
    operator's SQL), in one transaction that also takes them off the list; returns how many."""
    by_import = await take_and_queue(
        services,
        lambda conn: import_files.take_requeued_files(conn, REQUEUES_PER_RUN),
        lambda conn, taken: defer_by_import(services, conn, taken),
    )
    queued = sum(len(files) for files in by_import.values())
    for import_id, files in by_import.items():
        log.info("import.requeued_files_queued import_id=%s files=%d", import_id, len(files))
    return queued


async def within_file_cap(
    chunks: AsyncIterator[bytes], max_file_bytes: int
) -> AsyncIterator[bytes]:
    """The bytes of a file, cut off with a permanent failure past MAX_FILE_BYTES: the cap for
    sources that announce no size, whose files cannot be skipped when listed."""
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if max_file_bytes and received > max_file_bytes:
            raise PermanentSourceError(
                f"{over_file_cap(max_file_bytes)}: its download went past that"
            )
        yield chunk


def over_file_cap(max_file_bytes: int) -> str:
    return f"larger than the {max_file_bytes:,} bytes one file may have (MAX_FILE_BYTES)"
