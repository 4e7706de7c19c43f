"""Our own object store going away mid-import is waited out: transfers pause, no file spends
an attempt or is downloaded again and again, and the import completes by itself, exact."""

import asyncio
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from litestar.testing import AsyncTestClient

from devstack.ports import free_port
from tests.conftest import S3Server, Stack
from tests.helpers import all_images, start_import, wait_for_import
from tests.outage import CuttableLink

LINK_PORT = free_port()
TRANSFER_CONCURRENCY = 8
# The worker reaches S3 through a link the test cuts; everything else reaches S3 directly.
WORKER_ENV = {
    "S3_ENDPOINT_URL": f"http://127.0.0.1:{LINK_PORT}",
    "TRANSFER_CONCURRENCY": str(TRANSFER_CONCURRENCY),
    "TRANSFER_BATCH_FILES": "50",
    # Slow enough that the outage starts with most of the folder still to move.
    "SOURCE_REQUESTS_PER_SECOND": "60",
}
OUTAGE_SECONDS = 30


@pytest.fixture(scope="module", autouse=True)
def s3_link(s3_server: S3Server) -> Iterator[CuttableLink]:
    target = urlsplit(s3_server.endpoint_url)
    link = CuttableLink(LINK_PORT, target.hostname or "127.0.0.1", target.port or 80)
    yield link
    link.close()


async def test_an_s3_outage_mid_import_is_waited_out_and_the_import_completes_exact(
    api: AsyncTestClient[Any], stack: Stack, s3_link: CuttableLink
) -> None:
    fixture = stack.drive.fixture
    expected = {image.id: image for image in fixture.expected_images("thousand")}
    stack.drive.stats.reset()
    import_id = await start_import(api, fixture.link("thousand"))
    while (await api.get(f"/imports/{import_id}")).json()["counts"]["imported"] < 100:
        await asyncio.sleep(0.05)

    s3_link.cut()
    cut_at = time.monotonic()
    await asyncio.sleep(OUTAGE_SECONDS / 2)
    during = (await api.get(f"/imports/{import_id}")).json()
    downloads_during = sum(stack.drive.stats.media_requests_by_file.values())
    await asyncio.sleep(OUTAGE_SECONDS / 2)
    downloads_later = sum(stack.drive.stats.media_requests_by_file.values())
    s3_link.restore()
    result = await wait_for_import(api, import_id, timeout=300)

    assert time.monotonic() - cut_at >= OUTAGE_SECONDS
    assert during["status"] == "running" and during["counts"]["failed"] == 0
    # Paused: nothing more was downloaded in the outage's second half.
    assert downloads_later == downloads_during
    assert result["status"] == "completed", result
    assert result["counts"]["imported"] == len(expected) == 1000
    assert result["counts"]["failed"] == 0
    downloads = stack.drive.stats.media_requests_by_file
    # At most the files in flight when S3 went away were downloaded twice.
    assert sum(downloads[file_id] for file_id in expected) - len(expected) <= TRANSFER_CONCURRENCY
    with stack.db() as db:
        (attempts,) = db.execute(
            "SELECT array_agg(DISTINCT attempts) FROM import_files WHERE import_id = %s",
            (import_id,),
        ).fetchone()
    assert attempts == [1]
    images = await all_images(api, import_id=import_id, limit=500)
    assert sorted(image["source_file_id"] for image in images) == sorted(expected)
    objects = stack.objects(prefix="content/")
    for image in images:
        source = expected[image["source_file_id"]]
        assert image["md5_checksum"] == source.md5
        assert objects[f"content/{source.sha256}"] == source.size
