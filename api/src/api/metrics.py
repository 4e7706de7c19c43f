"""Prometheus metrics: requests by route template and status with their latency (Litestar's
Prometheus middleware), and the job queue's depth, read from Postgres when scraped."""

import logging

from litestar import Response, get
from litestar.datastructures import State
from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from psycopg_pool import AsyncConnectionPool

from domain.db import Connection

log = logging.getLogger("api.metrics")

METRICS_PATH = "/metrics"
# Scraping must not queue behind a busy pool for long: without a connection the queue's gauges
# are left out of that scrape.
QUEUE_QUERY_TIMEOUT_SECONDS = 2.0

# Route templates (`/imports/{import_id}`), not raw paths: one series per route.
PROMETHEUS = PrometheusConfig(
    app_name="image-import-api",
    prefix="image_import_api",
    group_path=True,
    exclude=[METRICS_PATH],
    buckets=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
)

# Ready jobs per queue, and how long its oldest waiting job has waited: the job_counts view
# (migrations/schema/operations.sql), which reads the job counters and finds each queue's and
# task's oldest waiting job by the one definition the console and queue_health use.
_QUEUE_DEPTH = """
SELECT queue_name, sum(todo)::bigint AS todo,
       extract(epoch FROM now() - min(waiting_since))::float8 AS waited
FROM job_counts
GROUP BY queue_name
"""


@get(METRICS_PATH, include_in_schema=False)
async def metrics(state: State) -> Response[bytes]:
    """The metrics in Prometheus' text format."""
    body = generate_latest(REGISTRY) + generate_latest(await _queue_registry(state.db_pool))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


async def _queue_registry(pool: AsyncConnectionPool[Connection]) -> CollectorRegistry:
    depth = GaugeMetricFamily(
        "image_import_queue_jobs", "Jobs ready to run, by queue.", labels=["queue"]
    )
    waited = GaugeMetricFamily(
        "image_import_queue_oldest_waiting_seconds",
        "How long the first ready job of a queue has waited.",
        labels=["queue"],
    )
    try:
        async with pool.connection(timeout=QUEUE_QUERY_TIMEOUT_SECONDS) as conn:
            cur = await conn.execute(_QUEUE_DEPTH)
            rows = await cur.fetchall()
            await conn.rollback()
    except Exception as exc:
        log.warning("metrics.queue_unavailable error=%s", exc)
        rows = []
    for row in rows:
        depth.add_metric([row["queue_name"]], row["todo"])
        waited.add_metric([row["queue_name"]], max(0.0, row["waited"] or 0.0))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed([depth, waited]))
    return registry


class _Fixed:
    """A collector that yields metrics computed beforehand (the query ran asynchronously)."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self._families = families

    def collect(self) -> list[GaugeMetricFamily]:
        return self._families
