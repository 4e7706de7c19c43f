"""What becomes of a file a batch could not move yet: the one retry policy of a transfer's
failures, by class.

- A rate limit is the shared pace's doing, not the file's: the file is tried again in its turn
  (backoff with jitter, as Google advises per request) up to RATE_LIMITED_TRIES times before
  one of its attempts is spent.
- The source's quota refusing the file for now (SourceQuotaExceeded) spends no attempt: the
  file waits SOURCE_QUOTA_RETRY_SECONDS, then as long as it has waited (at most 4 h), and fails
  once it has waited SOURCE_QUOTA_GIVE_UP_SECONDS.
- Any other transient failure spends an attempt and waits for a retry batch, after a backoff
  (or the source's Retry-After); the last attempt fails the file for good.

A batch's run collects its waiting files here and queues them, in one batch per kind, when it
finishes.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.imports import files as import_files
from domain.imports.files import FileOutcome
from worker import jobs, metrics
from worker.retry import backoff_seconds
from worker.services import Services
from worker.sources.base import SourceQuotaExceeded, TransientSourceError

log = logging.getLogger("worker.transfers")

RATE_LIMITED_TRIES = 8
# The longest wait between two tries of a rate-limited file, and between two tries of a file
# waiting for the source's quota.
RATE_LIMITED_MAX_WAIT_SECONDS = 16.0
QUOTA_MAX_WAIT_SECONDS = 4 * 3600.0


@dataclass(frozen=True)
class _Retry:
    file_id: str
    attempts: int
    reason: str
    retry_after: float | None


@dataclass(frozen=True)
class _QuotaWait:
    file_id: str
    reason: str
    wait_seconds: float


class FileRetries:
    """The files of one batch run waiting to be tried again, and the policy deciding it."""

    def __init__(self, services: Services, import_id: str, source: str) -> None:
        self._services = services
        self._import_id = import_id
        self._source = source
        self._retries: list[_Retry] = []
        self._quota_waits: list[_QuotaWait] = []

    def rate_limited_wait(self, tries: int) -> float | None:
        """How long before a rate-limited file's next try in place; None once it has had its
        RATE_LIMITED_TRIES (an attempt is spent then, see `retry_later`)."""
        if tries > RATE_LIMITED_TRIES:
            return None
        base = self._services.settings.retry_base_seconds
        return backoff_seconds(tries - 1, base, RATE_LIMITED_MAX_WAIT_SECONDS)

    def wait_for_quota(
        self, row: dict[str, Any], attempts: int, exc: SourceQuotaExceeded
    ) -> FileOutcome | None:
        """The file waits for the source's quota (no attempt spent), or fails once it waited
        SOURCE_QUOTA_GIVE_UP_SECONDS."""
        settings = self._services.settings
        file_id = row["source_file_id"]
        since = row["quota_wait_since"]
        waited = 0.0 if since is None else (datetime.now(UTC) - since).total_seconds()
        if not settings.source_quota_give_up_seconds:
            return FileOutcome(file_id, attempts, failure=str(exc), failure_class="source_quota")
        if waited >= settings.source_quota_give_up_seconds:
            gave_up = f"{exc} (the source refused it for {waited / 3600:.1f} h; gave up)"
            return FileOutcome(file_id, attempts, failure=gave_up, failure_class="source_quota")
        wait = min(QUOTA_MAX_WAIT_SECONDS, max(settings.source_quota_retry_seconds, waited))
        self._quota_waits.append(
            _QuotaWait(file_id, f"waiting for the source's quota: {exc}", wait)
        )
        metrics.QUOTA_WAITS.labels(self._source).inc()
        log.info(
            "import.file_waits_for_quota import_id=%s file_id=%s wait_seconds=%.0f error=%s",
            self._import_id,
            file_id,
            wait,
            exc,
        )
        return None

    def retry_later(self, row: dict[str, Any], attempts: int, exc: Exception) -> FileOutcome | None:
        """A transient failure: the file fails for good on its last attempt, and otherwise
        waits for the retry batch `queue` makes."""
        file_id = row["source_file_id"]
        reason = str(exc) or repr(exc)
        if attempts >= self._services.settings.max_attempts:
            return FileOutcome(file_id, attempts, failure=reason, failure_class="exhausted")
        retry_after = exc.retry_after if isinstance(exc, TransientSourceError) else None
        self._retries.append(_Retry(file_id, attempts, reason, retry_after))
        metrics.FILE_RETRIES.labels(self._source).inc()
        log.info(
            "import.transfer_retry import_id=%s file_id=%s attempt=%d error=%s",
            self._import_id,
            file_id,
            attempts,
            reason,
        )
        return None

    async def queue(self) -> None:
        """Queue the waiting files: one retry batch after the longest backoff any of them
        asked for, one batch of the quota's waiters at the soonest of their next tries."""
        if self._retries:
            await self._queue_retries()
        if self._quota_waits:
            await self._queue_quota_waits()

    async def _queue_retries(self) -> None:
        settings = self._services.settings
        retries = self._retries
        wait = backoff_seconds(
            max(r.attempts for r in retries) - 1,
            settings.retry_base_seconds,
            settings.retry_max_seconds,
        )
        wait = max([wait, *(r.retry_after for r in retries if r.retry_after is not None)])
        async with self._services.pool.connection() as conn, conn.transaction():
            still_pending = await import_files.postpone_files(
                conn,
                self._import_id,
                [r.file_id for r in retries],
                [r.attempts for r in retries],
                [r.reason for r in retries],
            )
            await jobs.defer_transfer_batches(
                conn, self._import_id, [still_pending] if still_pending else [], in_seconds=wait
            )

    async def _queue_quota_waits(self) -> None:
        waits = self._quota_waits
        wait = min(w.wait_seconds for w in waits)
        async with self._services.pool.connection() as conn, conn.transaction():
            still_pending = await import_files.wait_for_quota(
                conn,
                self._import_id,
                [w.file_id for w in waits],
                [w.reason for w in waits],
                wait,
            )
            await jobs.defer_transfer_batches(
                conn, self._import_id, [still_pending] if still_pending else [], in_seconds=wait
            )
