"""The web service: `uvicorn web.app:app`. A placeholder page until the HTMX UI lands."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from litestar import Litestar, get
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import State
from litestar.response import Template
from litestar.template.config import TemplateConfig

from web.api_client import ApiClient, ApiUnavailable
from web.settings import Settings, get_settings


@get("/", include_in_schema=False)
async def index(state: State) -> Template:
    """Home page: shows whether the API is reachable."""
    client: ApiClient = state.api
    settings: Settings = state.settings
    context: dict[str, object] = {"api_url": settings.api_url}
    try:
        health = await client.health()
        context |= {
            "api_ok": True,
            "api_status": health.get("status"),
            "database": health.get("database"),
        }
    except ApiUnavailable as exc:
        context |= {"api_ok": False, "api_error": str(exc)}
    return Template(template_name="index.html", context=context)


@get("/healthz")
async def healthz() -> dict[str, str]:
    """The web service is up (it does not depend on the API being up)."""
    return {"status": "ok"}


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with httpx.AsyncClient(base_url=settings.api_url) as http:
            app.state.api = ApiClient(http)
            app.state.settings = settings
            yield

    return Litestar(
        route_handlers=[index, healthz],
        lifespan=[lifespan],
        template_config=TemplateConfig(
            directory=Path(__file__).parent / "templates", engine=JinjaTemplateEngine
        ),
    )


app = create_app()
