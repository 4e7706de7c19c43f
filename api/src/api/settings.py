"""The API's settings, read once from the environment (and a `.env` file when present)."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/image_import"
    db_pool_min_size: int = Field(default=1, ge=1)
    db_pool_max_size: int = Field(default=10, ge=1)

    s3_endpoint_url: str | None = None
    # Presigned URLs are handed to browsers, which may reach S3 at another address than we do.
    s3_public_endpoint_url: str | None = None
    s3_bucket: str = "images"
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_region: str = "us-east-1"
    download_url_ttl_seconds: int = Field(default=3600, ge=1, le=604800)


@lru_cache
def get_settings() -> Settings:
    return Settings()
