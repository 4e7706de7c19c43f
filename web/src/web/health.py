"""Health checks: the web service's own, and its readiness, which is the API's."""

from litestar import Response, get
from litestar.di import NamedDependency

from web.api_client import ApiClient


@get("/healthz")
async def healthz() -> dict[str, str]:
    """The web service is up (it does not depend on the API being up)."""
    return {"status": "ok"}


@get("/readyz")
async def readyz(api: NamedDependency[ApiClient]) -> Response[dict[str, str]]:
    """Ready when the API is: the web reaches the database and the store only through it."""
    ready = await api.is_ready()
    status = "ok" if ready else "unavailable"
    return Response({"status": status, "api": status}, status_code=200 if ready else 503)
