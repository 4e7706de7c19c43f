"""The web service's settings, read once from the environment (and a `.env` file when present).

The port is not a setting of the app: the server is started on it, with `uvicorn web.app:app
--port $WEB_PORT` by `make up` and `--port ${PORT:-8080}` in the container (web/Dockerfile).
"""

from functools import lru_cache
from typing import Annotated, Self

from pydantic import IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Where the web service reaches the API (server to server; browsers never call it).
    api_url: str = "http://127.0.0.1:8000"
    # The address people use to reach this site, for absolute links.
    public_base_url: str = "http://localhost:8080"
    # The API's API_TOKEN, sent as a bearer token on every call to it. It stays on this server:
    # no page, header or script sent to a browser carries it.
    # With it set, the pages that start, retry or cancel imports need a signed-in visitor
    # (web/auth.py), who signs in with WEB_PASSWORD or with API_TOKEN itself.
    api_token: SecretStr | None = None
    web_password: SecretStr | None = None
    # The API's API_READ_TOKEN: only whether it is set matters here. Set, every page needs a
    # signed-in visitor (the web reads with API_TOKEN, which the API accepts for reads).
    api_read_token: SecretStr | None = None
    # The API's OPS_TOKEN: set, the operators' console (/ops) is on, and calls the API's /ops
    # routes with it (server to server, like API_TOKEN). Operators sign in at /ops/sign-in with
    # their name and OPS_PASSWORD (or OPS_TOKEN itself); the name is logged with each change.
    ops_token: SecretStr | None = None
    ops_password: SecretStr | None = None
    # The proxies in front of this service (addresses or CIDR networks, comma-separated) whose
    # X-Forwarded-For names the visitor: the visitor's address (for the sign-in limit, and
    # passed on to the API) is its rightmost entry that is not one of them. Empty (the
    # default), it is the connection's, whatever the header says.
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = []

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator(
        "api_token", "web_password", "api_read_token", "ops_token", "ops_password", mode="before"
    )
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _sign_in_needs_api_token(self) -> Self:
        for name in ("web_password", "api_read_token"):
            if getattr(self, name) is not None and self.api_token is None:
                raise ValueError(
                    f"{name.upper()} is set but API_TOKEN is not: without API_TOKEN the web "
                    "is open to everyone and signs no one in; set API_TOKEN too"
                )
        if self.ops_password is not None and self.ops_token is None:
            raise ValueError(
                "OPS_PASSWORD is set but OPS_TOKEN is not: the console needs OPS_TOKEN to "
                "reach the API's /ops routes; set OPS_TOKEN too"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
