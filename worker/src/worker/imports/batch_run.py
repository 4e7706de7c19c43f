"""A transfer batch's run: it streams its pending files from the source into the object
store, several at once within the worker's in-flight limit, and settles their outcomes in
groups (transfers.py plans and queues the batches).

A batch only ever looks at its files still pending, so a re-run (of the job, or after a killed
worker) stores, counts and queues nothing twice. A file that fails transiently goes into a new
batch of its own failures, scheduled after a backoff (file_retries.py decides, by failure
class); the batch's finished files are never sent again.
"""

import asyncio
import logging
from typing import Any

import psycopg

from domain.contents import repository as contents
from domain.db import Connection
from domain.imports import files as import_files
from domain.imports.files import FileOutcome
from domain.imports.stored import StoredObject
from domain.sources.records import SHA256
from worker import jobs, metrics
from worker.imports.file_retries import FileRetries
from worker.imports.transfers import within_file_cap
from worker.retry import OUTSIDE_FAILURES
from worker.services import Services
from worker.sources.base import (
    PermanentSourceError,
    SourceFile,
    SourceQuotaExceeded,
    TransientSourceError,
)
from worker.sources.media_types import NotAnImage, typed_by_bytes
from worker.storage.multipart_upload import PARTS_IN_MEMORY
from worker.storage.object_store import ObjectStore, StoreUnavailable

log = logging.getLogger("worker.transfers")

# Outcomes settled per statement: few enough that progress moves visibly and a cancellation is
# seen within a few files, many enough that the import's row is written rarely.
SETTLE_EVERY = 32


async def transfer_batch(services: Services, import_id: str, file_ids: list[str]) -> None:
    """Move the batch's files still pending. Each file ends imported, failed for good (a
    permanent error, or its last attempt), or pending in a retry batch; errors of the
    database propagate, and the job's own retry re-runs what is still pending."""
    async with services.pool.connection() as conn:
        batch = await import_files.get_pending_files(conn, import_id, file_ids)
    if batch.import_status != "running" or batch.link_row is None or not batch.files:
        return
    run = _BatchRun(services, import_id, batch.link_row)
    async with asyncio.TaskGroup() as group:
        for row in batch.files:
            group.create_task(run.transfer(row))
    await run.finish()


async def fail_pending_files(
    services: Services, import_id: str, file_ids: list[str], reason: str
) -> None:
    """The batch's files still pending fail for good (its job ran out of attempts)."""
    async with services.pool.connection() as conn:
        batch = await import_files.get_pending_files(conn, import_id, file_ids)
        if batch.source is None or not batch.files:
            return
        outcomes = [
            FileOutcome(
                row["source_file_id"],
                row["attempts"] + 1,
                failure=reason,
                failure_class="batch_exhausted",
            )
            for row in batch.files
        ]
        settled = await import_files.settle_files(conn, import_id, batch.source, outcomes)
        await jobs.queue_imports_in_turn_if_ended(conn, settled.import_status)
    count_settled(batch.source, outcomes)
    log.warning(
        "import.files_failed import_id=%s files=%d reason=%s", import_id, len(outcomes), reason
    )


class _BatchRun:
    """One run of a batch job: its files' outcomes waiting to be settled, and its retries."""

    def __init__(self, services: Services, import_id: str, link_row: dict[str, Any]) -> None:
        self._services = services
        self._import_id = import_id
        self._source: str = link_row["source"]
        self._connector = services.connector_for(link_row)
        self._unsettled: list[FileOutcome] = []
        self._retries = FileRetries(services, import_id, self._source)
        self._settling = asyncio.Lock()
        # Set once the import is no longer running (cancelled, failed): no new file starts.
        self._stopped = False

    async def transfer(self, row: dict[str, Any]) -> None:
        outcome = await self._move(row)
        if outcome is not None:
            await self._record(outcome)

    async def _move(self, row: dict[str, Any]) -> FileOutcome | None:
        """Copy one file in its turn; its outcome, or None when it is to be tried again later
        (or not at all: the import stopped)."""
        file_id = row["source_file_id"]
        store = self._services.store
        attempts = row["attempts"] + 1
        rate_limited_tries = 0
        holds = self._memory_held(row["size"])
        async with self._services.in_flight.slot(holds, line=self._import_id) as turn:
            while True:
                # While our own store is down, nothing is downloaded only to be thrown away,
                # and a file's attempts are not spent on a fault that is not its source's.
                await store.wait_until_available()
                if self._stopped:
                    return None
                try:
                    stored = await self._copy(row)
                    turn.moved(stored.size)
                    break
                except StoreUnavailable:
                    continue
                except NotAnImage as exc:
                    return FileOutcome(file_id, attempts, skipped=str(exc))
                except SourceQuotaExceeded as exc:
                    return self._retries.wait_for_quota(row, attempts, exc)
                except PermanentSourceError as exc:
                    return FileOutcome(file_id, attempts, failure=str(exc))
                except psycopg.Error:
                    # Our own database (the shared pace) failed, not the source: no attempt
                    # of the file's is spent; the batch fails whole and its job retries it.
                    raise
                except TransientSourceError as exc:
                    if exc.rate_limited:
                        rate_limited_tries += 1
                        wait = self._retries.rate_limited_wait(rate_limited_tries)
                        if wait is not None:
                            await asyncio.sleep(wait)
                            continue
                    return self._retries.retry_later(row, attempts, exc)
                except OUTSIDE_FAILURES as exc:
                    return self._retries.retry_later(row, attempts, exc)
                # Any other exception is a bug: it fails the batch's job (see failure_ladder.py).
        return FileOutcome(file_id, attempts, stored=stored)

    async def finish(self) -> None:
        """Settle what is left, and queue the files to try again."""
        await self._settle()
        if not self._stopped:
            await self._retries.queue()

    async def _copy(self, row: dict[str, Any]) -> StoredObject:
        services = self._services
        file = SourceFile(
            file_id=row["source_file_id"],
            name=row["name"],
            mime_type=row["mime_type"],
            size=row["size"],
            checksums=row["checksums"],
            resource_key=row["resource_key"],
        )
        async with self._connector.open_file(file) as chunks:
            # The bytes, not the name or the listed type, decide what is an image (and which).
            content_type, chunks = await typed_by_bytes(chunks, file.mime_type)
            return await services.store.upload_content(
                within_file_cap(chunks, services.settings.max_file_bytes),
                staging_key=ObjectStore.staging_key_for(self._source, file.file_id),
                # A file listed with its SHA-256 was looked up by it when its page was listed
                # (settle_known_contents): no second lookup per file. (Two imports racing with
                # the same new bytes may then both store them, to the same key.)
                is_stored=_not_stored if SHA256 in file.checksums else self._is_stored,
                content_type=content_type,
                expected_size=file.size,
                expected_checksums=file.checksums,
            )

    async def _is_stored(self, sha256: str, size: int) -> bool:
        async with self._services.pool.connection() as conn:
            return await contents.is_stored(conn, sha256, size)

    def _memory_held(self, size: int | None) -> int:
        """What a file may hold in memory while it moves: a small file is held whole for its
        single PUT; a large one, or one of unknown size, streams through a few multipart
        parts."""
        settings = self._services.settings
        if size is not None and size < settings.s3_multipart_threshold_bytes:
            return size
        return settings.s3_part_size_bytes * PARTS_IN_MEMORY

    async def _record(self, outcome: FileOutcome) -> None:
        self._unsettled.append(outcome)
        if len(self._unsettled) >= SETTLE_EVERY:
            await self._settle()

    async def _settle(self) -> None:
        async with self._settling:
            outcomes, self._unsettled = self._unsettled, []
            if not outcomes or self._stopped:
                return
            stored = [(o.file_id, o.stored) for o in outcomes if o.stored is not None]
            try:
                async with self._services.pool.connection() as conn, conn.transaction():
                    await self._record_contents(conn, [s for _, s in stored])
                    settled = await import_files.settle_files(
                        conn, self._import_id, self._source, outcomes
                    )
                    pointed = await contents.point_images(
                        conn, self._import_id, self._source, stored
                    )
                    await contents.release_stored_before_contents(conn, self._source, pointed)
                    # Derivatives of the stored images, committed with them: off the import's
                    # path (their own queue, at a lower priority), never lost on a crash. An
                    # image of a content whose derivatives are made has them already.
                    to_derive = settled.images_to_derive
                    await jobs.defer_derivatives(
                        conn,
                        self._import_id,
                        [i for i in to_derive if i not in pointed.derivatives_copied],
                        batch_images=self._services.settings.derivative_batch_images,
                    )
                    await jobs.queue_imports_in_turn_if_ended(conn, settled.import_status)
                if pointed.released:
                    # Files whose bytes changed: their former contents may have no image left.
                    async with self._services.pool.connection() as conn, conn.transaction():
                        await contents.collect_unreferenced(conn, pointed.released)
                status = settled.import_status
                count_settled(self._source, outcomes)
            except psycopg.errors.ObjectNotInPrerequisiteState:
                status = "cancelled"  # the import's triggers refused the record: nothing kept
            if status != "running":
                self._stopped = True
        failed = [o for o in outcomes if o.failure]
        for outcome in failed:
            log.warning(
                "import.file_failed import_id=%s file_id=%s reason=%s",
                self._import_id,
                outcome.file_id,
                outcome.failure,
            )

    async def _record_contents(self, conn: Connection, stored: list[StoredObject]) -> None:
        """Record the contents stored; one whose object was deleted since its key was last
        used is checked in the store first (see domain/contents/repository.py). If its upload
        came before that deletion, the group is not settled: the batch's job runs again, and
        stores the bytes anew."""
        for key in await contents.record_contents(conn, stored):
            if not await self._services.store.exists(key):
                raise StoreUnavailable(
                    f"the object {key} was deleted after it was uploaded; stored again on retry"
                )


async def _not_stored(sha256: str, size: int) -> bool:
    return False


def count_settled(source: str, outcomes: list[FileOutcome]) -> None:
    """Count settled files and the bytes imported (a batch only settles files still pending,
    so a re-run does not count a file again)."""
    imported_bytes = 0
    for outcome in outcomes:
        if outcome.stored is not None:
            imported_bytes += outcome.stored.size
            metrics.FILES.labels(source, "imported", "").inc()
        elif outcome.skipped is not None:
            metrics.FILES.labels(source, "skipped", metrics.skip_class(outcome.skipped)).inc()
        else:
            metrics.FILES.labels(source, "failed", outcome.failure_class).inc()
    if imported_bytes:
        metrics.BYTES.labels(source).inc(imported_bytes)
