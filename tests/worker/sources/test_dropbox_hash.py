"""Dropbox's content_hash (the `dropbox_content_hash` checksum): its hasher against the
reference vectors, and an upload checked against it as the bytes stream into the object store."""

from collections.abc import AsyncIterator

import pytest

from tests.conftest import S3Server
from worker.sources.base import TransientSourceError
from worker.sources.dropbox_hash import DROPBOX_CONTENT_HASH, DropboxContentHasher
from worker.storage.object_store import ObjectStore

# N bytes of "A" and their content_hash: rclone's dbhash test vectors, as the reference notes
# (B7) give them.
VECTORS = {
    0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    1: "1cd6ef71e6e0ff46ad2609d403dc3fee244417089aa4461245a4e4fe23a55e42",
    2: "01e0655fb754d10418a73760f57515f4903b298e6d67dda6bf0987fa79c22c88",
    4096: "8620913d33852befe09f16fff8fd75f77a83160d29f76f07e0276e9690903035",
    4194303: "647c8627d70f7a7d13ce96b1e7710a771a55d41a62c3da490d92e56044d311fa",
    4194304: "d4d63bac5b866c71620185392a8a6218ac1092454a2d16f820363b69852befa3",
    4194305: "8f553da8d00d0bf509d8470e242888be33019c20c0544811f5b2b89e98360b92",
    8388608: "e08b3ba1f538804075c5f939accdeaa9efc7b5c01865c94a41e78ca6550a88e7",
}


@pytest.mark.parametrize(
    ("size", "expected", "chunk_size"),
    [
        (size, expected, chunk_size)
        for size, expected in VECTORS.items()
        for chunk_size in [65_536, 4_194_304, 5_000_000]
    ]
    # Byte by byte is only worth it on small inputs.
    + [(size, expected, 1) for size, expected in VECTORS.items() if size <= 4096],
)
def test_content_hash_matches_dropbox_whatever_the_chunking(
    size: int, expected: str, chunk_size: int
) -> None:
    data = b"A" * size
    hasher = DropboxContentHasher()
    for start in range(0, size, chunk_size):
        hasher.update(data[start : start + chunk_size])
    assert hasher.hexdigest() == expected
    assert hasher.hexdigest() == expected  # reading it does not change it


async def chunks_of(data: bytes, size: int = 1 << 20) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def keys(store: ObjectStore, s3_server: S3Server) -> set[str]:
    listed = s3_server.client().list_objects_v2(Bucket=store.bucket)
    return {obj["Key"] for obj in listed.get("Contents", [])}


@pytest.mark.parametrize("size", [4096, 8388608])  # one PUT, and multipart
async def test_an_upload_checked_against_a_content_hash_records_it(
    store: ObjectStore, s3_server: S3Server, size: int
) -> None:
    key = f"dropbox/ok-{size}"
    stored = await store.upload(
        key,
        chunks_of(b"A" * size),
        content_type="image/png",
        expected_size=size,
        expected_checksums={DROPBOX_CONTENT_HASH: VECTORS[size].upper()},
    )
    assert stored.checksums[DROPBOX_CONTENT_HASH] == VECTORS[size]
    assert key in keys(store, s3_server)


@pytest.mark.parametrize("size", [4096, 8388608])
async def test_bytes_that_do_not_match_the_content_hash_never_appear(
    store: ObjectStore, s3_server: S3Server, size: int
) -> None:
    key = f"dropbox/bad-{size}"
    with pytest.raises(TransientSourceError, match="dropbox_content_hash of the received bytes"):
        await store.upload(
            key,
            chunks_of(b"B" * size),
            content_type="image/png",
            expected_size=size,
            expected_checksums={DROPBOX_CONTENT_HASH: VECTORS[size]},
        )
    assert key not in keys(store, s3_server)


async def test_without_a_content_hash_to_check_none_is_computed(store: ObjectStore) -> None:
    stored = await store.upload(
        "google_drive/plain",
        chunks_of(b"A" * 10),
        content_type="image/png",
        expected_size=10,
    )
    assert DROPBOX_CONTENT_HASH not in stored.checksums
