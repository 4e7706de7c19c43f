"""The API's settings, read once from the environment (and a `.env` file when present)."""

from functools import lru_cache
from typing import Annotated, Self

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain import address_policy


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/image_import"
    db_pool_min_size: int = Field(default=1, ge=1)
    db_pool_max_size: int = Field(default=10, ge=1)
    # A request waits this long for a database connection, then answers 503: an unreachable
    # database is said at once, not after a hang.
    db_pool_timeout_seconds: float = Field(default=3.0, gt=0)
    # Every statement of a request is cancelled after this (503 with Retry-After): a slow query
    # gives its connection back instead of holding it while others queue for the pool.
    db_statement_timeout_seconds: float = Field(default=2.0, gt=0)
    # The share of DB_POOL_MAX_SIZE that each expensive kind of image listing (text search;
    # range filters) may hold at once; a request beyond it answers 503 at once, so that no one
    # kind of request can take every connection.
    db_expensive_query_share: float = Field(default=0.3, gt=0, le=1)

    s3_endpoint_url: str | None = None
    # Presigned URLs are handed to browsers, which may reach S3 at another address than we do.
    s3_public_endpoint_url: str | None = None
    s3_bucket: str = "images"
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_region: str = "us-east-1"
    download_url_ttl_seconds: int = Field(default=3600, ge=1, le=604800)

    # Archives (GET /imports/{id}/archive, POST /archives): the most images one may hold,
    # how long a selection's download link lasts, the connections to S3 that archives share,
    # and how many objects a download opens ahead of the one it sends (each holds a few
    # chunks at most), so that one object's latency hides behind another's bytes.
    archive_max_images: int = Field(default=100_000, ge=1)
    archive_link_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    archive_store_connections: int = Field(default=32, ge=1)
    archive_read_ahead_objects: int = Field(default=8, ge=1)

    # Bearer token the routes that start or change work (every POST) require; unset, they are
    # open. With API_READ_TOKEN too, every other route (but /healthz, /readyz and /schema) needs
    # one of the two.
    api_token: SecretStr | None = None
    api_read_token: SecretStr | None = None
    # The operators' token: every /ops route (the console's: job queues, retries,
    # cancellations) needs it, whatever API_TOKEN and API_READ_TOKEN say, and no other token
    # opens them; unset, the /ops routes answer 401 to everyone.
    ops_token: SecretStr | None = None
    # A worker silent for this long is presumed dead and its running jobs stalled (the
    # worker's setting of the same name puts them back by itself; /ops lists them until then).
    stalled_worker_seconds: float = Field(default=30.0, gt=0)
    # Requests that start or change work, per client address and minute, in each API process;
    # 0 turns the limit off.
    start_rate_limit_per_minute: int = Field(default=30, ge=0)
    # The proxies in front of this service (addresses or CIDR networks, comma-separated) whose
    # X-Forwarded-For names the client: the client address is its rightmost entry that is not
    # one of them. Empty (the default), it is the connection's, whatever the header says.
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = []
    # Request bodies above this are refused with 413; a start request is well under 1 KiB.
    max_request_bytes: int = Field(default=16 * 1024, ge=1)

    # The shortest interval a sync may run at (`every` of POST /syncs): each run lists the
    # whole folder, so a short one costs the source's quota for little news.
    sync_min_interval_seconds: int = Field(default=15 * 60, ge=1)

    # Sources beyond the built-in ones, each `module:attribute` naming a SourceSpec
    # (comma-separated); the worker must name the same ones.
    source_plugins: Annotated[list[str], NoDecode] = []

    # Networks (CIDR, comma-separated) a notify_url may name although they are not public
    # (loopback, private, link-local...); default none. The worker's setting of the same name
    # decides again at each delivery, on the addresses the host resolves to then.
    webhook_allowed_networks: Annotated[list[str], NoDecode] = []

    @field_validator("source_plugins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("webhook_allowed_networks", "trusted_proxies", mode="before")
    @classmethod
    def _comma_separated_networks(cls, value: object) -> object:
        return address_policy.comma_separated(value)

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        address_policy.parse_networks(value, setting="WEBHOOK_ALLOWED_NETWORKS")
        return value

    @field_validator("api_token", "api_read_token", "ops_token", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _read_token_needs_write_token(self) -> Self:
        if self.api_read_token is not None and self.api_token is None:
            raise ValueError(
                "API_READ_TOKEN is set but API_TOKEN is not: the routes that change work would "
                "stay open while reads are closed; set API_TOKEN too"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
