"""The worker's connectors, one per registered source, built once per process."""

import importlib
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
from aiohttp.abc import AbstractResolver

from domain.sources.registry import Registry, SourceSpec
from worker.db import Pool
from worker.http_client import create_source_client
from worker.pacing import PostgresPacer, pacing_bucket
from worker.settings import Settings
from worker.sources.base import ConnectorDeps, SourceConnector


def build_connectors(
    registry: Registry,
    settings: Settings,
    http: httpx.AsyncClient,
    pool: Pool,
    clients: AsyncExitStack,
) -> dict[str, SourceConnector]:
    """Each source's connector; the clients they make of their own close with `clients`."""

    def pacer(bucket: str, credential: str | None) -> PostgresPacer:
        return PostgresPacer(
            pool,
            pacing_bucket(bucket, credential),
            requests_per_second=settings.source_requests_per_second,
            burst=settings.source_burst,
        )

    def client_with_resolver(resolver: Callable[[], AbstractResolver]) -> httpx.AsyncClient:
        client = create_source_client(settings, resolver=resolver, follow_redirects=False)
        clients.push_async_callback(client.aclose)
        return client

    deps = ConnectorDeps(
        http=http,
        pacer=pacer,
        page_size=settings.listing_page_size,
        client_with_resolver=client_with_resolver,
    )
    # Each source reads its own settings, from the environment under its own prefix.
    return {spec.name: connector_factory(spec)(spec.settings_type(), deps) for spec in registry}


def connector_factory(spec: SourceSpec) -> Callable[[Any, ConnectorDeps], SourceConnector]:
    """The factory a registry entry names as `module:function`."""
    module_name, _, function = spec.connector.partition(":")
    factory = getattr(importlib.import_module(module_name), function, None) if module_name else None
    if not callable(factory):
        raise ValueError(f"source {spec.name!r}: connector {spec.connector!r} is no factory")
    return factory  # type: ignore[no-any-return]
