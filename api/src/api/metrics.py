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

# Ready jobs per queue, and how long the lowest-numbered one (the first deferred) has waited
# since it was queued or became due: one pass over the `todo` jobs (a partial index covers
# them) and one event lookup per queue, rather than the queue_health view's per-job lookups.
_QUEUE_DEPTH = """
WITH ready AS (
    SELECT queue_name, count(*) AS todo, min(id) AS first_id
    FROM procrastinate_jobs
    WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())
    GROUP BY queue_name
)
SELECT r.queue_name, r.todo,
       extract(epoch FROM now() - greatest(j.scheduled_at, (
           SELECT max(e.at) FROM procrastinate_events e
           WHERE e.job_id = r.first_id
             AND e.type IN ('deferred', 'deferred_for_retry', 'retried'))))::float8 AS waited
FROM ready r JOIN procrastinate_jobs j ON j.id = r.first_id
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
