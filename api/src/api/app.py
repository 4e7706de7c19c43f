"""The API service: `uvicorn api.app:app`."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from api.db import create_pool, provide_connection
from api.errors import EXCEPTION_HANDLERS
from api.health import healthz
from api.images.endpoints import ImageController
from api.imports.endpoints import ImportController
from api.jobs import create_job_app
from api.settings import Settings, get_settings
from api.storage import DownloadLinks


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = create_pool(settings)
        await pool.open()
        job_app = create_job_app()
        await job_app.open_async(pool)
        app.state.db_pool = pool
        app.state.job_app = job_app
        app.state.download_links = DownloadLinks(settings)
        try:
            yield
        finally:
            await job_app.close_async()
            await pool.close()

    return Litestar(
        route_handlers=[healthz, ImportController, ImageController],
        dependencies={"conn": Provide(provide_connection)},
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Image import API",
            version="0.1.0",
            path="/schema",
            use_handler_docstrings=True,
        ),
        logging_config=None,
    )


logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
app = create_app()
