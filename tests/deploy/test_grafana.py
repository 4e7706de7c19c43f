"""The Grafana dashboard (deploy/grafana/image-import.json) charts only metrics the services
export, under the names they export them."""

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import worker.metrics  # noqa: F401 - registers the worker's metrics
from api.metrics import PROMETHEUS

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "image-import.json"
SERIES_SUFFIXES = ("_bucket", "_count", "_sum")


def exported_names() -> set[str]:
    # A labelled metric has no samples until it is first used: its family names it.
    names = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in REGISTRY.collect()
    }
    # The api's request metrics are created with its first request; the queue's at scrape time.
    prefix = PROMETHEUS.prefix
    names |= {f"{prefix}_requests_total", f"{prefix}_request_duration_seconds"}
    names |= {"image_import_queue_jobs", "image_import_queue_oldest_waiting_seconds"}
    return names


def test_every_dashboard_query_names_an_exported_metric() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(dashboard["panels"]) >= 7
    used = {name for expr in exprs for name in re.findall(r"\bimage_import_\w+", expr)}
    exported = exported_names()
    for name in used:
        base = name
        for suffix in SERIES_SUFFIXES:
            base = base.removesuffix(suffix)
        assert name in exported or base in exported, name
