"""Read-only access to the object store: presigned download URLs for stored images."""

from typing import Any

import boto3
from botocore.config import Config

from api.settings import Settings


class DownloadLinks:
    """Signs time-limited GET URLs. Signing is local computation: no call to S3."""

    def __init__(self, settings: Settings) -> None:
        self._ttl = settings.download_url_ttl_seconds
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=settings.s3_public_endpoint_url or settings.s3_endpoint_url,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=settings.aws_secret_access_key,
            region_name=settings.aws_region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def url_for(self, bucket: str, key: str) -> str:
        url: str = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=self._ttl
        )
        return url
