"""The web service's only way to the data: the API, over HTTP."""

from typing import Any

import httpx


class ApiUnavailable(Exception):
    """The API could not be reached or did not answer sensibly."""


class ApiClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def health(self) -> dict[str, Any]:
        try:
            response = await self._http.get("/healthz", timeout=3.0)
            body: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ApiUnavailable(str(exc) or type(exc).__name__) from exc
        return body
