"""The one retry policy for transient failures: exponential backoff with full jitter, capped,
honouring a source's Retry-After. Permanent failures are never retried."""

import random
from datetime import UTC, datetime, timedelta

from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.jobs import Job

from worker.settings import get_settings
from worker.sources.base import PermanentSourceError, TransientSourceError


def backoff_seconds(attempts_so_far: int, base: float, cap: float) -> float:
    return random.uniform(0, min(cap, base * 2**attempts_so_far))


def is_last_attempt(job: Job) -> bool:
    return job.attempts + 1 >= get_settings().max_attempts


class TransientFailureRetry(BaseRetryStrategy):
    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        settings = get_settings()
        if isinstance(exception, PermanentSourceError) or is_last_attempt(job):
            return None
        wait = backoff_seconds(
            job.attempts, settings.retry_base_seconds, settings.retry_max_seconds
        )
        if isinstance(exception, TransientSourceError) and exception.retry_after is not None:
            wait = max(wait, exception.retry_after)
        return RetryDecision(retry_at=datetime.now(UTC) + timedelta(seconds=wait))
