"""What the worker's tests share: an object store on a bucket of the module's own."""

import uuid
from collections.abc import AsyncIterator

import pytest

from devstack.s3 import ensure_bucket
from tests.conftest import S3Server
from worker.settings import Settings
from worker.storage import ObjectStore

# The smallest S3 allows, so that multipart uploads need only a few MiB.
MULTIPART_THRESHOLD = 5 * 1024 * 1024


@pytest.fixture(scope="module")
async def store(s3_server: S3Server) -> AsyncIterator[ObjectStore]:
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    ensure_bucket(s3_server.client(), bucket, s3_server.region)
    settings = Settings(
        s3_endpoint_url=s3_server.endpoint_url,
        s3_bucket=bucket,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        aws_region=s3_server.region,
        s3_multipart_threshold_bytes=MULTIPART_THRESHOLD,
        s3_part_size_bytes=MULTIPART_THRESHOLD,
    )
    object_store = ObjectStore(settings)
    yield object_store
    await object_store.aclose()
