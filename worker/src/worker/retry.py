"""The one retry policy for transient failures: exponential backoff with full jitter, capped,
honouring a source's Retry-After. Permanent failures are never retried, and neither are bugs:
an exception that is no failure of the outside world fails its job at once, visibly."""

import asyncio
import random
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.exceptions import ConnectorException, JobAborted
from procrastinate.jobs import Job

from worker.settings import get_settings
from worker.sources.base import PermanentSourceError, SourceError, TransientSourceError
from worker.storage.object_store import StoreUnavailable


class WebhookAttemptFailed(Exception):
    """A webhook receiver did not take the event (no 2xx, or no answer); the attempt is
    recorded, and the next is due at `retry_at` (backoff, or the receiver's Retry-After)."""

    def __init__(self, reason: str, retry_at: datetime) -> None:
        super().__init__(reason)
        self.retry_at = retry_at


# What a job may meet from the outside world: sources, the store, the database, the network, the
# disk, a webhook's receiver. Anything else is a bug of ours: retrying it would only hide it.
OUTSIDE_FAILURES = (
    SourceError,
    WebhookAttemptFailed,
    StoreUnavailable,
    psycopg.Error,
    ConnectorException,
    httpx.HTTPError,
    OSError,
    TimeoutError,
)


def is_bug(exception: BaseException) -> bool:
    if isinstance(exception, BaseExceptionGroup):
        return any(is_bug(inner) for inner in exception.exceptions)
    return not isinstance(exception, OUTSIDE_FAILURES)


# How Procrastinate cuts a running job short (see was_interrupted).
INTERRUPTIONS = (asyncio.CancelledError, JobAborted)


def was_interrupted(exception: BaseException) -> bool:
    """Whether the job was cut short by its worker stopping (SIGTERM past the grace period, or
    the database lost): Procrastinate cancels it. Nothing of the job failed, so it runs again at
    once, whatever its attempts; left unretried it would end `aborted` with its files neither
    moved nor failed, and its import would never end. (A cancelled import's jobs end by
    themselves; an operator's abort of one job is no interruption of this kind: the failure
    ladder turns it into Procrastinate's JobAborted, which is not retried.)"""
    return isinstance(exception, INTERRUPTIONS)


def backoff_seconds(attempts_so_far: int, base: float, cap: float) -> float:
    return random.uniform(0, min(cap, base * 2**attempts_so_far))


def is_last_attempt(job: Job) -> bool:
    return job.attempts + 1 >= get_settings().max_attempts


class TransientFailureRetry(BaseRetryStrategy):
    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if was_interrupted(exception):
            return RetryDecision(retry_at=datetime.now(UTC))
        settings = get_settings()
        if isinstance(exception, PermanentSourceError) or is_bug(exception) or is_last_attempt(job):
            return None
        wait = backoff_seconds(
            job.attempts, settings.retry_base_seconds, settings.retry_max_seconds
        )
        if isinstance(exception, TransientSourceError) and exception.retry_after is not None:
            wait = max(wait, exception.retry_after)
        return RetryDecision(retry_at=datetime.now(UTC) + timedelta(seconds=wait))


class WebhookDeliveryRetry(BaseRetryStrategy):
    """A webhook attempt that failed is retried when its delivery says (the delivery decided
    the wait, and when to give up, from its own age: WEBHOOK_RETRY_FOR_SECONDS). A failure of
    the database or the network around the attempt is retried with the usual backoff until it
    passes; a bug is not retried."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, WebhookAttemptFailed):
            return RetryDecision(retry_at=exception.retry_at)
        if was_interrupted(exception):
            return RetryDecision(retry_at=datetime.now(UTC))
        if is_bug(exception):
            return None
        # The database around the attempt: tried again however long it takes to come back, not
        # for MAX_ATTEMPTS, which the receiver's own failures count towards; the attempt then
        # made gives the delivery up if it fails past WEBHOOK_RETRY_FOR_SECONDS.
        settings = get_settings()
        wait = backoff_seconds(
            job.attempts, settings.retry_base_seconds, settings.retry_max_seconds
        )
        return RetryDecision(retry_at=datetime.now(UTC) + timedelta(seconds=wait))
