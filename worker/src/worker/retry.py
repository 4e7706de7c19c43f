"""The one retry policy for transient failures: exponential backoff with full jitter, capped,
honouring a source's Retry-After. Permanent failures are never retried, and neither are bugs:
an exception that is no failure of the outside world fails its job at once, visibly."""

import random
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Job

from worker.settings import get_settings
from worker.sources.base import PermanentSourceError, SourceError, TransientSourceError
from worker.storage import StoreUnavailable

# What a job may meet from the outside world: sources, the store, the database, the network, the
# disk. Anything else is a bug of ours: retrying it would only hide it.
OUTSIDE_FAILURES = (
    SourceError,
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


def backoff_seconds(attempts_so_far: int, base: float, cap: float) -> float:
    return random.uniform(0, min(cap, base * 2**attempts_so_far))


def is_last_attempt(job: Job) -> bool:
    return job.attempts + 1 >= get_settings().max_attempts


class TransientFailureRetry(BaseRetryStrategy):
    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        settings = get_settings()
        if isinstance(exception, PermanentSourceError) or is_bug(exception) or is_last_attempt(job):
            return None
        wait = backoff_seconds(
            job.attempts, settings.retry_base_seconds, settings.retry_max_seconds
        )
        if isinstance(exception, TransientSourceError) and exception.retry_after is not None:
            wait = max(wait, exception.retry_after)
        return RetryDecision(retry_at=datetime.now(UTC) + timedelta(seconds=wait))
