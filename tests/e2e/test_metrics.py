"""The worker's and the API's /metrics count a real import as the import itself does."""

from typing import Any

import httpx
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from devstack.ports import free_port
from tests.conftest import Stack
from tests.helpers import start_import, wait_for_import

WORKER_METRICS_PORT = free_port()
WORKER_ENV = {"METRICS_PORT": str(WORKER_METRICS_PORT)}


def sample_sum(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def worker_metrics() -> str:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{WORKER_METRICS_PORT}/metrics")
    assert response.status_code == 200
    return response.text


async def test_worker_metrics_count_the_files_and_bytes_of_an_import(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    import_id = await start_import(api, stack.drive.fixture.link("mixed"))
    result = await wait_for_import(api, import_id)
    assert result["counts"]["imported"] == 8
    assert result["counts"]["skipped"] == 2

    text = await worker_metrics()
    files = "image_import_files_total"
    assert sample_sum(text, files, source="google_drive", outcome="imported") == 8
    assert sample_sum(text, files, source="google_drive", outcome="skipped") == 2
    # A text file, and a Google Doc, which has no bytes to download.
    assert sample_sum(text, files, outcome="skipped", reason="not_image") == 1
    assert sample_sum(text, files, outcome="skipped", reason="not_downloadable") == 1
    assert sample_sum(text, files, outcome="failed") == 0
    assert (
        sample_sum(text, "image_import_bytes_total", source="google_drive")
        == (result["bytes_imported"])
    )
    assert sample_sum(text, "image_import_jobs_total", outcome="succeeded") >= 3
    assert sample_sum(
        text, "image_import_job_duration_seconds_count", task="import.transfer_batch"
    ) == sample_sum(text, "image_import_jobs_total", task="import.transfer_batch")
    uploads = "image_import_s3_upload_seconds_count"
    assert (
        sample_sum(text, uploads, method="put") + sample_sum(text, uploads, method="multipart") == 8
    )
    # big.jpg, above the multipart threshold, went straight to its content's key: Drive
    # listed its SHA-256, so no staging key and no copy.
    assert sample_sum(text, uploads, method="copy") == 0


async def test_api_metrics_count_requests_by_route_template_and_the_queue(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    route = "/imports/{import_id}"

    def requests_to_route(text: str) -> float:
        return sample_sum(
            text, "image_import_api_requests_total", path=route, status_code="200", method="GET"
        )

    before = (await api.get("/metrics")).text
    import_id = await start_import(api, stack.drive.fixture.link("downloads"))
    await wait_for_import(api, import_id)
    for _ in range(3):
        assert (await api.get(f"/imports/{import_id}")).status_code == 200
    response = await api.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    assert requests_to_route(after) >= requests_to_route(before) + 4
    assert import_id not in after  # a route template, never the raw path
    # The same requests (the registry is the process's: other test modules' requests to the
    # route, with other statuses, are in it too).
    assert sample_sum(
        after,
        "image_import_api_request_duration_seconds_count",
        path=route,
        status_code="200",
        method="GET",
    ) == requests_to_route(after)
    assert "# TYPE image_import_queue_jobs gauge" in after
