"""The object store against real S3: what it stores is what the source announced, or nothing."""

import asyncio
import base64
import hashlib
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from devstack.ports import free_port
from tests.conftest import S3Server
from tests.worker.conftest import MULTIPART_THRESHOLD
from worker.settings import Settings
from worker.sources.base import TransientSourceError
from worker.storage.object_store import ObjectStore, StoreUnavailable


async def chunks_of(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def keys(store: ObjectStore, s3_server: S3Server) -> set[str]:
    listed = s3_server.client().list_objects_v2(Bucket=store.bucket)
    return {obj["Key"] for obj in listed.get("Contents", [])}


def payload(size: int) -> bytes:
    return hashlib.shake_256(str(size).encode()).digest(size)


@pytest.mark.parametrize(
    ("size", "chunk"),
    [(0, 1), (150_000, 150_000), (150_000, 16 * 1024), (MULTIPART_THRESHOLD + 123, 1 << 20)],
)
async def test_the_stored_bytes_are_the_source_bytes(
    store: ObjectStore, s3_server: S3Server, size: int, chunk: int
) -> None:
    data = payload(size)
    key = f"google_drive/ok-{size}-{chunk}"
    stored = await store.upload(
        key,
        chunks_of(data, chunk),
        content_type="image/jpeg",
        expected_size=size,
        expected_checksums={"md5": hashlib.md5(data).hexdigest()},
    )
    assert (stored.size, stored.md5_checksum) == (size, hashlib.md5(data).hexdigest())
    body = s3_server.client().get_object(Bucket=store.bucket, Key=key)["Body"].read()
    assert body == data


@pytest.mark.parametrize("size", [150_000, MULTIPART_THRESHOLD + 123])  # one PUT, and multipart
async def test_the_crc32_an_archive_needs_is_recorded_with_the_stored_bytes(
    store: ObjectStore, size: int
) -> None:
    data = payload(size)
    stored = await store.upload(
        f"google_drive/crc-{size}",
        chunks_of(data, 100_000),
        content_type="image/jpeg",
        expected_size=size,
    )
    assert stored.checksums["crc32"] == f"{zlib.crc32(data):08x}"


@pytest.mark.parametrize("size", [150_000, MULTIPART_THRESHOLD + 123])  # one PUT, and multipart
async def test_a_body_shorter_than_announced_leaves_no_object(
    store: ObjectStore, s3_server: S3Server, size: int
) -> None:
    data = payload(size)
    key = f"google_drive/short-{size}"
    with pytest.raises(TransientSourceError, match="source announced"):
        await store.upload(
            key,
            chunks_of(data[:-1000]),
            content_type="image/jpeg",
            expected_size=size,
            expected_checksums={"md5": hashlib.md5(data).hexdigest()},
        )
    assert key not in keys(store, s3_server)


@pytest.mark.parametrize("size", [150_000, MULTIPART_THRESHOLD + 123])
async def test_bytes_that_differ_from_the_announced_md5_leave_no_object(
    store: ObjectStore, s3_server: S3Server, size: int
) -> None:
    data = payload(size)
    key = f"google_drive/bad-md5-{size}"
    with pytest.raises(TransientSourceError, match="md5 of the received bytes"):
        await store.upload(
            key,
            chunks_of(data),
            content_type="image/jpeg",
            expected_size=size,
            expected_checksums={"md5": hashlib.md5(data + b"!").hexdigest()},
        )
    assert key not in keys(store, s3_server)


def test_s3_refuses_a_put_whose_bytes_differ_from_its_content_md5(
    store: ObjectStore, s3_server: S3Server
) -> None:
    """The end-to-end check single PUTs rely on, with the payload unsigned."""
    client = store._multipart.client
    wrong = base64.b64encode(hashlib.md5(b"other bytes").digest()).decode()
    with pytest.raises(client.exceptions.ClientError, match=r"BadDigest|InvalidDigest"):
        client.put_object(
            Bucket=store.bucket, Key="google_drive/digest", Body=b"x", ContentMD5=wrong
        )
    assert "google_drive/digest" not in keys(store, s3_server)


async def test_a_refusal_of_a_working_store_fails_the_transfer_with_its_reason(
    s3_server: S3Server,
) -> None:
    settings = Settings(
        s3_endpoint_url=s3_server.endpoint_url,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key="not-the-secret",
        aws_region=s3_server.region,
    )
    store = ObjectStore(settings)
    data = payload(1000)
    try:
        with pytest.raises(TransientSourceError, match="S3 answered 403"):
            await store.upload(
                "google_drive/refused",
                chunks_of(data),
                content_type="image/jpeg",
                expected_size=len(data),
                expected_checksums={"md5": hashlib.md5(data).hexdigest()},
            )
        # A refusal is not an outage: transfers go on.
        await asyncio.wait_for(store.wait_until_available(), 1)
    finally:
        await store.aclose()


async def test_an_unreachable_store_is_an_outage_that_holds_transfers_back() -> None:
    settings = Settings(
        s3_endpoint_url=f"http://127.0.0.1:{free_port()}",
        aws_access_key_id="key",
        aws_secret_access_key="secret",
    )
    store = ObjectStore(settings)
    data = payload(1000)
    try:
        with pytest.raises(StoreUnavailable, match="S3 did not answer"):
            await store.upload(
                "google_drive/nowhere",
                chunks_of(data),
                content_type="image/jpeg",
                expected_size=len(data),
                expected_checksums={"md5": hashlib.md5(data).hexdigest()},
            )
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(store.wait_until_available(), 1)
    finally:
        await store.aclose()


@pytest.mark.parametrize("size", [150_000, MULTIPART_THRESHOLD + 321])  # one PUT, and multipart
async def test_new_bytes_are_stored_under_their_sha256_and_known_ones_not_at_all(
    store: ObjectStore, s3_server: S3Server, size: int
) -> None:
    data = payload(size + 7)
    sha256 = hashlib.sha256(data).hexdigest()
    staging = ObjectStore.staging_key_for("google_drive", f"content-{size}")
    asked: list[tuple[str, int]] = []

    def is_stored(answer: bool) -> Any:
        async def ask(sha: str, length: int) -> bool:
            asked.append((sha, length))
            return answer

        return ask

    first = await store.upload_content(
        chunks_of(data),
        staging_key=staging,
        is_stored=is_stored(False),
        content_type="image/jpeg",
        expected_size=len(data),
    )
    assert (first.key, first.sha256, first.reused) == (f"content/{sha256}", sha256, False)
    assert asked == [(sha256, len(data))]
    body = s3_server.client().get_object(Bucket=store.bucket, Key=first.key)["Body"].read()
    assert body == data
    # The staging object of a large file is gone once copied.
    assert staging not in keys(store, s3_server)

    s3_server.client().delete_object(Bucket=store.bucket, Key=first.key)
    again = await store.upload_content(
        chunks_of(data),
        staging_key=staging,
        is_stored=is_stored(True),
        content_type="image/jpeg",
        expected_size=len(data),
    )
    # Known: nothing stored (the object deleted above stays deleted), nothing staged left.
    assert (again.key, again.reused) == (first.key, True)
    assert not {first.key, staging} & keys(store, s3_server)


async def test_a_large_file_listed_with_its_sha256_streams_straight_to_its_contents_key(
    store: ObjectStore, s3_server: S3Server
) -> None:
    data = payload(MULTIPART_THRESHOLD + 4321)
    sha256 = hashlib.sha256(data).hexdigest()
    staging = ObjectStore.staging_key_for("google_drive", "listed-sha256")

    async def never_asked(sha: str, length: int) -> bool:
        raise AssertionError("the listing matched a listed SHA-256 already")

    stored = await store.upload_content(
        chunks_of(data),
        staging_key=staging,
        is_stored=never_asked,
        content_type="image/jpeg",
        expected_size=len(data),
        expected_checksums={"sha256": sha256.upper()},
    )
    assert (stored.key, stored.sha256, stored.reused) == (f"content/{sha256}", sha256, False)
    body = s3_server.client().get_object(Bucket=store.bucket, Key=stored.key)["Body"].read()
    assert body == data
    assert staging not in keys(store, s3_server)

    # Other bytes than the source listed never appear under the listed content's key.
    other = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(TransientSourceError, match="sha256"):
        await store.upload_content(
            chunks_of(data),
            staging_key=staging,
            is_stored=never_asked,
            content_type="image/jpeg",
            expected_size=len(data),
            expected_checksums={"sha256": other},
        )
    assert not {f"content/{other}", staging} & keys(store, s3_server)
