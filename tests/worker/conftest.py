"""What the worker's tests share: an object store on a bucket of the module's own, and the
sources' HTTP clients (the shared one, and one guarded by the address policy)."""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from devstack.s3 import ensure_bucket
from domain.address_policy import parse_networks
from tests.conftest import S3Server
from worker.http_client import create_source_client
from worker.settings import Settings
from worker.sources.addresses import PolicyResolver
from worker.storage.object_store import ObjectStore

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


@pytest.fixture
async def http(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """The sources' HTTP client as the worker builds it: it follows redirects, which the
    key-less Drive path must not rely on. A test module may set SOURCE_TIMEOUT_SECONDS
    (default 10)."""
    timeout = getattr(request.module, "SOURCE_TIMEOUT_SECONDS", 10)
    async with create_source_client(Settings(source_timeout_seconds=timeout)) as client:
        yield client


def guarded_source_client(
    networks: list[str], *, setting: str, timeout: float = 10
) -> httpx.AsyncClient:
    """The client a connector of links that name any host reads with (as
    `worker.sources.addresses.guarded_client` builds it for the worker): `networks` allowed
    beside public addresses."""
    allowed = parse_networks(networks)
    return create_source_client(
        Settings(source_timeout_seconds=timeout),
        resolver=lambda: PolicyResolver(allowed, setting=setting),
        follow_redirects=False,
    )
