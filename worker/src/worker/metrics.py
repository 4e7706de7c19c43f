"""The worker's Prometheus metrics, served by prometheus-client's own HTTP server on
METRICS_PORT (the worker serves nothing else over HTTP). Each worker process is a scrape target
of its own; Prometheus sums them.

Counters move where outcomes are decided: files where a batch settles them
(imports/batch_run.py) or a listing page records them skipped or unchanged (imports/listing.py),
pace waits and hold-offs in pacing.py, uploads in storage/, jobs in failure_ladder.py."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram, start_http_server

# Jobs run from milliseconds (a small batch of unchanged files) to minutes (a batch of large
# files); uploads from milliseconds to a large file's multipart minutes.
JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
UPLOAD_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

JOBS = Counter(
    "image_import_jobs_total",
    "Jobs run, by task and outcome (succeeded, failed, retried).",
    ["task", "outcome"],
)
JOB_DURATION = Histogram(
    "image_import_job_duration_seconds",
    "How long a job ran, by task and outcome.",
    ["task", "outcome"],
    buckets=JOB_BUCKETS,
)
FILES = Counter(
    "image_import_files_total",
    "Files settled, by source, outcome (imported, unchanged, skipped, failed) and reason "
    "class (failed: permanent, exhausted, batch_exhausted; skipped: not_image, too_large, "
    "not_downloadable).",
    ["source", "outcome", "reason"],
)
FILE_RETRIES = Counter(
    "image_import_file_retries_total",
    "Transient failures of a file's transfer that were queued for another attempt.",
    ["source"],
)
QUOTA_WAITS = Counter(
    "image_import_file_quota_waits_total",
    "Times a file the source refused for now (its download quota) was set to wait for it.",
    ["source"],
)
BYTES = Counter(
    "image_import_bytes_total",
    "Bytes of the images imported, by source.",
    ["source"],
)
PACE_WAIT = Counter(
    "image_import_source_pace_wait_seconds_total",
    "Seconds callers waited for their turn at a source's shared pace.",
    ["source"],
)
HOLD_OFFS = Counter(
    "image_import_source_hold_offs_total",
    "Times a source's pace was held off (a rate limit or Retry-After from the source).",
    ["source"],
)
PACE_RATE = Gauge(
    "image_import_source_pace_rate",
    "Requests per second a source's shared pace allows now (cut after its rate-limit answers, "
    "growing back to SOURCE_REQUESTS_PER_SECOND), as the worker processes last saw it.",
    ["source"],
    # One rate shared by every process: the latest any of them saw.
    multiprocess_mode="livemostrecent",
)
FILES_IN_FLIGHT_LIMIT = Gauge(
    "image_import_files_in_flight_limit",
    "Files the worker keeps moving at most now, over its processes (each follows the time "
    "its files take).",
    multiprocess_mode="livesum",
)
UPLOAD_DURATION = Histogram(
    "image_import_s3_upload_seconds",
    "S3 uploads that succeeded, by method (put, multipart, copy: a large file from its staging "
    "key to its content's; multipart includes reading the "
    "source as it streams).",
    ["method"],
    buckets=UPLOAD_BUCKETS,
)
UPLOAD_ERRORS = Counter(
    "image_import_s3_upload_errors_total",
    "S3 uploads that failed, by method and kind (unavailable: the store is down; refused: it "
    "answered with an error).",
    ["method", "kind"],
)


def start_server(port: int) -> None:
    """Serve /metrics (any path, in fact) on `port`; 0 serves nothing."""
    if port:
        start_http_server(port)


def source_of_bucket(bucket: str) -> str:
    """The source of a pacing bucket (`source` or `source:credential-hash`)."""
    return bucket.split(":", 1)[0]


def skip_class(reason: str) -> str:
    """A bounded label for a listing's skip reason (the reason itself names sizes and types)."""
    if reason.startswith("not an image"):
        return "not_image"
    if "MAX_FILE_BYTES" in reason:
        return "too_large"
    return "not_downloadable"


class JobRun:
    """One job's run as it is measured: `succeeded` unless the task says it `failed()` (a bug,
    or a failure recorded for good, which Procrastinate may see as a success) or is to be
    `retried()`."""

    def __init__(self) -> None:
        self.outcome = "succeeded"

    def failed(self) -> None:
        self.outcome = "failed"

    def retried(self) -> None:
        self.outcome = "retried"


@contextmanager
def job_run(task: str) -> Iterator[JobRun]:
    """Count and time one job of `task`, with the outcome its task set; an exception it did
    not classify counts as `failed`."""
    run = JobRun()
    started = time.perf_counter()
    try:
        yield run
    except Exception:
        if run.outcome == "succeeded":
            run.failed()
        raise
    finally:
        JOBS.labels(task, run.outcome).inc()
        JOB_DURATION.labels(task, run.outcome).observe(time.perf_counter() - started)
