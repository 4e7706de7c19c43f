"""The worker's settings, read once from the environment (and a `.env` file when present)."""

import base64
import binascii
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain import address_policy


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/image_import"
    db_pool_max_size: int = Field(default=20, ge=2)
    # How long a job waits for a connection (the pool has one for every running job, so a wait
    # means the database is gone): then it fails and is retried. psycopg_pool's 30 s default
    # kept a worker that lost the database waiting half a minute after it came back.
    db_pool_timeout_seconds: float = Field(default=3.0, gt=0)

    s3_endpoint_url: str | None = None
    s3_bucket: str = "images"
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_region: str = "us-east-1"
    # Files above this size go up as multipart uploads of this part size.
    s3_multipart_threshold_bytes: int = Field(default=16 * 1024 * 1024, ge=5 * 1024 * 1024)
    s3_part_size_bytes: int = Field(default=8 * 1024 * 1024, ge=5 * 1024 * 1024)

    # Each source's own settings (GOOGLE_*, DROPBOX_*) are read by its registry entry, under
    # its own prefix (domain/sources/). Sources beyond the built-in ones, each
    # `module:attribute` naming a SourceSpec (comma-separated); the API must name the same.
    source_plugins: Annotated[list[str], NoDecode] = []
    source_timeout_seconds: float = Field(default=60.0, gt=0)
    # The pace of calls to one source per credential, shared by every worker through Postgres.
    # Drive allows 12,000 queries per minute per user (200/s); this stays at half of that.
    source_requests_per_second: float = Field(default=100.0, gt=0)
    source_burst: int = Field(default=100, ge=1)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Worker processes `image-import-worker` runs, each with its own pools, clients and
    # Procrastinate workers (every per-process setting below is per process): `auto` is one per
    # CPU this container may use (its CPU affinity, capped by a cgroup CPU limit), or a number.
    # With more than one, a supervising process starts them, serves their metrics together and
    # stops them all on SIGTERM (worker/processes.py).
    worker_processes: Annotated[int | Literal["auto"], Field(union_mode="left_to_right")] = "auto"
    # Prometheus metrics are served on this port at /metrics (0 serves none): one scrape target
    # per `image-import-worker`, whatever its WORKER_PROCESSES (they are summed in
    # prometheus-client's multiprocess mode).
    metrics_port: int = Field(default=9000, ge=0, le=65535)
    # Jobs one worker process runs at once (listing pages and transfer batches).
    worker_concurrency: int = Field(default=16, ge=1)
    # A listing page queues its new images as transfer batches of at most this many files and
    # about this many known bytes (files at or above S3_MULTIPART_THRESHOLD_BYTES go alone).
    transfer_batch_files: int = Field(default=100, ge=1, le=1000)
    transfer_batch_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    # What one worker process moves at once, over all its batches: at most this many files
    # (below it, as many as the time files take calls for: latency_limit.py), and the bytes
    # they may hold in memory (a small file is held whole for its single PUT; a large one
    # holds its multipart parts).
    transfer_concurrency: int = Field(default=256, ge=1)
    transfer_buffer_bytes: int = Field(default=96 * 1024 * 1024, ge=16 * 1024 * 1024)
    # A file the source refuses for now (its download quota) waits, tried again after
    # SOURCE_QUOTA_RETRY_SECONDS, then after as long as it has waited so far (at most 4 h a
    # wait), and fails once it waited SOURCE_QUOTA_GIVE_UP_SECONDS (0: it fails at once).
    source_quota_retry_seconds: float = Field(default=900.0, gt=0)
    source_quota_give_up_seconds: float = Field(default=172_800.0, ge=0)
    # A transient failure (rate limit, 5xx, cut connection) is retried this many times in all.
    max_attempts: int = Field(default=6, ge=1)
    retry_base_seconds: float = Field(default=1.0, ge=0)
    retry_max_seconds: float = Field(default=64.0, ge=0)
    listing_page_size: int = Field(default=1000, ge=1, le=1000)
    # On SIGTERM, running jobs get this long to finish before they are aborted and retried.
    shutdown_grace_seconds: float = Field(default=25.0, ge=0)
    # A worker that has not sent a heartbeat for this long is presumed dead; its jobs are
    # put back in the queue.
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    stalled_worker_seconds: float = Field(default=30.0, gt=0)

    # Derivatives (a thumbnail and the facts of each stored image) are made by a Procrastinate
    # worker of their own in each worker process, on the `derivatives` queue, this many images
    # at once (each on a thread at a lower CPU priority than the transfers). Off: no derivative
    # is made by this process (they wait in the queue for one that makes them).
    derivatives_enabled: bool = True
    derivative_concurrency: int = Field(default=1, ge=1, le=8)
    # Images per derivative job, for those the backfill and the transfers queue.
    derivative_batch_images: int = Field(default=32, ge=1, le=1000)
    thumbnail_longest_side: int = Field(default=320, ge=16, le=2048)
    # The pixels one image may decode to (JPEGs decode scaled down, so they may declare up to
    # 64 times more): what bounds the memory of a derivative, and refuses decompression bombs.
    derivative_max_pixels: int = Field(default=50_000_000, ge=1)
    # Originals larger than this get no thumbnail (they are read whole to a temporary file).
    derivative_max_file_bytes: int = Field(default=512 * 1024 * 1024, ge=1)

    # Caps that keep one import, or many, from taking over a deployment open to the public;
    # 0 (or an empty value) turns a cap off. Over MAX_FILES_PER_IMPORT files or
    # MAX_IMPORT_BYTES known bytes, an import stops listing and fails; an image over
    # MAX_FILE_BYTES is skipped (or, when its size is unknown until it downloads, fails); with
    # MAX_ACTIVE_IMPORTS imports running, a new one waits its turn, queued.
    max_files_per_import: int = Field(default=100_000, ge=0)
    max_file_bytes: int = Field(default=5_000_000_000, ge=0)
    max_import_bytes: int = Field(default=500_000_000_000, ge=0)
    max_active_imports: int = Field(default=20, ge=0)

    # Webhooks (an import's notify_url, when it ends). Signed with this Standard Webhooks
    # secret (`whsec_` and base64 of 24 to 64 random bytes); unset, every delivery fails
    # saying so: an unsigned event would be one anybody could forge.
    webhook_secret: SecretStr | None = None
    # Networks (CIDR, comma-separated) a notify_url may reach although they are not public
    # (loopback, private, link-local...); the API's WEBHOOK_ALLOWED_NETWORKS should match.
    webhook_allowed_networks: Annotated[list[str], NoDecode] = []
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Waits between attempts: exponential from the base, with full jitter, each at most the
    # max (which also caps a receiver's Retry-After); no attempt starts more than
    # WEBHOOK_RETRY_FOR_SECONDS after the import ended: the delivery fails then.
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_retry_for_seconds: float = Field(default=86400.0, ge=0)
    # Deliveries one worker process sends at once (a Procrastinate worker of their own).
    webhook_concurrency: int = Field(default=4, ge=1)
    # The API's address as receivers reach it: the event's links are absolute URLs under it
    # (relative paths when unset).
    api_public_url: str | None = None

    @field_validator("worker_processes")
    @classmethod
    def _at_least_one_process(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("WORKER_PROCESSES must be auto or at least 1")
        return value

    @field_validator("source_plugins", "webhook_allowed_networks", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return address_policy.comma_separated(value)

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        address_policy.parse_networks(value, setting="WEBHOOK_ALLOWED_NETWORKS")
        return value

    @field_validator("webhook_secret", "api_public_url", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_secret")
    @classmethod
    def _standard_webhooks_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            webhook_signing_key(value)
        return value

    def webhook_networks(self) -> tuple[address_policy.IPNetwork, ...]:
        return address_policy.parse_networks(self.webhook_allowed_networks)

    @field_validator(
        "max_files_per_import",
        "max_file_bytes",
        "max_import_bytes",
        "max_active_imports",
        mode="before",
    )
    @classmethod
    def _empty_means_no_cap(cls, value: object) -> object:
        return 0 if isinstance(value, str) and not value.strip() else value


def webhook_signing_key(secret: SecretStr) -> bytes:
    """The HMAC key of a Standard Webhooks secret: the base64 after `whsec_`."""
    text = secret.get_secret_value().strip()
    if not text.startswith("whsec_"):
        raise ValueError("WEBHOOK_SECRET must start with whsec_ (Standard Webhooks)")
    try:
        key = base64.b64decode(text.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise ValueError("WEBHOOK_SECRET: what follows whsec_ must be base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError(
            f"WEBHOOK_SECRET must encode 24 to 64 random bytes, not {len(key)}: make one with"
            " `python -c \"import base64, os; print('whsec_' + base64.b64encode(os.urandom(32))"
            '.decode())"`'
        )
    return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
