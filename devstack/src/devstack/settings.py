"""What `devstack up` reads from the environment (and a `.env` file; the environment wins)."""

from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from devstack.errors import DevstackError

Port = Annotated[int, Field(ge=1, le=65535)]


class SettingsError(DevstackError):
    pass


class DevstackSettings(BaseSettings):
    # An empty value (as copied from .env.example) means "not set": for DATABASE_URL and
    # S3_ENDPOINT_URL that selects the embedded server.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    database_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_bucket: str = "images"
    aws_access_key_id: str = "devaccess"
    aws_secret_access_key: str = "devsecret"
    aws_region: str = "us-east-1"
    api_port: Port = 8000
    web_port: Port = 8080
    api_url: str | None = None
    # Only used by the embedded servers.
    postgres_port: Port = 5432
    s3_port: Port = 8333
    data_dir: Path = Path(".data")


def load_settings() -> DevstackSettings:
    """Read the settings, turning validation errors into one line per bad variable."""
    try:
        return DevstackSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None
