"""The web service's settings, read once from the environment (and a `.env` file when present).

The port is not a setting of the app: the server is started on it, with `uvicorn web.app:app
--port $WEB_PORT` by `make up` and `--port ${PORT:-8080}` in the container (web/Dockerfile).
"""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Where the web service reaches the API (server to server; browsers never call it).
    api_url: str = "http://127.0.0.1:8000"
    # The address people use to reach this site, for absolute links.
    public_base_url: str = "http://localhost:8080"


@lru_cache
def get_settings() -> Settings:
    return Settings()
