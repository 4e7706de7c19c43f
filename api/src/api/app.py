"""The API service: `uvicorn api.app:app`."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from api.albums.endpoints import AlbumController
from api.archives.endpoints import ArchiveController
from api.archives.service import Archives
from api.db import create_pool, provide_connection
from api.errors import EXCEPTION_HANDLERS
from api.health import healthz, readyz
from api.images.endpoints import ImageController
from api.images.limits import QueryClasses
from api.imports.endpoints import ImportController
from api.jobs import create_job_app
from api.metrics import METRICS_PATH, PROMETHEUS, metrics
from api.ops.endpoints import OpsController
from api.route_rules import (
    ApiRequest,
    allow_every_method,
    http_routes,
    methods_by_path,
    query_parameters_by_handler,
    refuse_unknown_query_parameters,
)
from api.security import (
    bearer_token_guard,
    client_address_from_trusted_proxies,
    declare_bearer_where_needed,
    security_headers,
    start_rate_limit,
)
from api.settings import Settings, get_settings
from api.sources.endpoints import SourceController
from api.storage import BucketCheck, ObjectReader, download_links
from api.syncs.endpoints import SyncController
from api.webhooks.endpoints import WebhookController
from domain.address_policy import parse_networks
from domain.sources.registry import load_registry

OPENAPI_PATH = "/schema"
HEALTH_PATHS = ["/healthz", "/readyz"]


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
        app.state.download_links = download_links(settings)
        app.state.bucket_check = BucketCheck(settings)
        reader = ObjectReader(settings, connections=settings.archive_store_connections)
        app.state.archives = Archives(
            pool,
            reader,
            concurrency=settings.archive_store_connections,
            read_ahead=settings.archive_read_ahead_objects,
        )
        try:
            yield
        finally:
            await reader.close()
            await job_app.close_async()
            await pool.close()

    rate_limit = start_rate_limit(settings)
    open_paths = [*HEALTH_PATHS, METRICS_PATH, OPENAPI_PATH]
    # Read from the routes once the app has registered them, below.
    query_parameters: dict[int, frozenset[str]] = {}
    methods: dict[str, str] = {}
    # Outermost, so that the metrics and the rate limit see the client's address.
    client_address = client_address_from_trusted_proxies(settings)
    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            metrics,
            ImportController,
            ImageController,
            ArchiveController,
            AlbumController,
            SourceController,
            SyncController,
            WebhookController,
            OpsController,
        ],
        state=State(
            {
                "sources": load_registry(settings.source_plugins),
                "settings": settings,
                # Each expensive kind of image listing's share of the pool (api/images/limits.py).
                "query_classes": QueryClasses(
                    settings.db_pool_max_size, settings.db_expensive_query_share
                ),
                # Where a notify_url may point beyond public addresses (WEBHOOK_ALLOWED_NETWORKS).
                "notify_networks": parse_networks(settings.webhook_allowed_networks),
            }
        ),
        dependencies={"conn": Provide(provide_connection)},
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_class=ApiRequest,
        lifespan=[lifespan],
        guards=[
            bearer_token_guard(settings, open_paths=open_paths),
            refuse_unknown_query_parameters(query_parameters),
        ],
        middleware=[
            *([client_address] if client_address else []),
            PROMETHEUS.middleware,
            *([rate_limit.middleware] if rate_limit else []),
        ],
        before_send=[security_headers(docs_path=OPENAPI_PATH), allow_every_method(methods)],
        request_max_body_size=settings.max_request_bytes,
        openapi_config=OpenAPIConfig(
            title="Image import API",
            version="0.1.0",
            path=OPENAPI_PATH,
            use_handler_docstrings=True,
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="API_TOKEN for every POST; API_READ_TOKEN (or API_TOKEN) "
                        "for the other routes when it is set.",
                    ),
                    "ops": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="OPS_TOKEN, on every /ops route (the operators' console).",
                    ),
                }
            ),
        ),
        logging_config=None,
    )
    query_parameters.update(query_parameters_by_handler(app))
    methods.update(methods_by_path(app))
    declare_bearer_where_needed(http_routes(app), settings, open_paths=open_paths)
    return app


logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
app = create_app()
