"""The web service's settings, read once from the environment (and a `.env` file when present).

The port is not a setting of the app: the server is started on it, with `uvicorn web.app:app
--port $WEB_PORT` by `make up` and `--port ${PORT:-8080}` in the container (web/Dockerfile).
"""

from functools import lru_cache

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Where the web service reaches the API (server to server; browsers never call it).
    api_url: str = "http://127.0.0.1:8000"
    # The address people use to reach this site, for absolute links.
    public_base_url: str = "http://localhost:8080"
    # The API's API_TOKEN, sent as a bearer token on every call to it. It stays on this server:
    # no page, header or script sent to a browser carries it.
    api_token: SecretStr | None = None

    @field_validator("api_token", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return None if isinstance(value, str) and not value.strip() else value


@lru_cache
def get_settings() -> Settings:
    return Settings()
