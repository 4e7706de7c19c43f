"""Read-only access to the object store: presigned download URLs for stored images, and
whether the bucket answers."""

import asyncio
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from api.settings import Settings
from domain.s3_signing import DownloadLinks, S3Account


def download_links(settings: Settings) -> DownloadLinks:
    """Links at the address people reach the store by (its public endpoint, when set)."""
    account = S3Account(
        endpoint_url=settings.s3_public_endpoint_url or settings.s3_endpoint_url,
        region=settings.aws_region,
        access_key_id=settings.aws_access_key_id,
        secret_access_key=settings.aws_secret_access_key,
    )
    return DownloadLinks(account, settings.download_url_ttl_seconds)


class BucketCheck:
    """Whether the bucket answers a HEAD, at the address the services use (not the public one),
    once and quickly: no retries, short timeouts."""

    def __init__(self, settings: Settings, timeout_seconds: float = 2.0) -> None:
        self._bucket = settings.s3_bucket
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=settings.aws_secret_access_key,
            region_name=settings.aws_region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=timeout_seconds,
                read_timeout=timeout_seconds,
                retries={"mode": "standard", "max_attempts": 1},
            ),
        )

    async def answers(self, timeout_seconds: float) -> bool:
        # boto3 blocks: in a thread, off the event loop.
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._client.head_bucket, Bucket=self._bucket),
                timeout=timeout_seconds,
            )
        except (BotoCoreError, ClientError, TimeoutError):
            return False
        return True
