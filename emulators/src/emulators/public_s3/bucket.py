"""Filling a bucket on a real S3 server from a fixture, and making it public.

The fixture is the Drive emulator's (`DriveFixture`: the same spec grammar and the same bytes),
so a test or the bench can compare one importer's result with another's: every file with
content becomes an object whose key is its path of names below the fixture's root
(`folder/sub/IMG_00001.jpg`). Files named in `multipart` are uploaded in 5 MiB parts, so their
ETag is a multipart one (`<hex>-<parts>`), not their MD5.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from emulators.google_drive import DriveFixture
from emulators.google_drive.fixture import DriveItem

# S3's smallest part but the last.
PART_BYTES = 5 * 1024 * 1024


def public_read_policy(bucket: str) -> str:
    """The bucket policy that makes a bucket public on Amazon S3 (and on SeaweedFS, MinIO...):
    anyone may list it and read its objects, nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicList",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:ListBucket"],
                    "Resource": [f"arn:aws:s3:::{bucket}"],
                },
                {
                    "Sid": "PublicRead",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{bucket}/*"],
                },
            ],
        }
    )


def object_key(item: DriveItem) -> str:
    return "/".join(item.path)


def seed_public_bucket(
    client: Any,
    bucket: str,
    fixture: DriveFixture,
    *,
    public: bool = True,
    multipart: Collection[str] = (),
    threads: int = 16,
) -> list[str]:
    """Create `bucket` (if need be) with every file of `fixture` as an object, and the public
    read policy unless `public` is False (a private bucket: anonymous requests are refused).
    `client` is a boto3 S3 client with the right to do so. Returns the keys."""
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket)
    items = [item for item in fixture if not item.is_folder and item.has_content]

    def upload(item: DriveItem) -> str:
        key = object_key(item)
        body = fixture.read_bytes(item.id)
        if key in multipart:
            upload_in_parts(client, bucket, key, body)
        else:
            client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=item.mime_type)
        return key

    with ThreadPoolExecutor(threads) as pool:
        keys = list(pool.map(upload, items))
    if public:
        client.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    return keys


def upload_in_parts(client: Any, bucket: str, key: str, body: bytes) -> None:
    """Write `body` to `key` in PART_BYTES parts: its ETag is a multipart one, `<hex>-<parts>`."""
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = []
    for number, start in enumerate(range(0, max(len(body), 1), PART_BYTES), start=1):
        part = client.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body[start : start + PART_BYTES],
        )
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
    client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
