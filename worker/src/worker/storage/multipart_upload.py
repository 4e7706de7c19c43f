"""Uploads of large files: boto3's transfer manager (multipart above the threshold) on a worker
thread, reading from the event loop's stream as it goes."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.handlers import add_expect_header

from domain.s3_signing import S3Account
from worker import metrics
from worker.settings import Settings
from worker.sources.base import TransientSourceError
from worker.storage.upload_tally import BlockingReader, ByteTally

# What a multipart upload holds in memory at most, in parts: those s3transfer reads ahead and
# the one the stream is filling.
PARTS_IN_MEMORY = 3


class MultipartUploads:
    def __init__(self, settings: Settings, account: S3Account) -> None:
        self.client: Any = account.session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            config=Config(
                signature_version="s3v4",
                # The bytes are protected by the checksums we send (Content-MD5 on a single
                # PUT, CRC32 on each part), which S3 checks. Signing the payload as well (the
                # default over plain HTTP) makes both ends SHA-256 every byte once more, and
                # botocore's default CRC32 beside our Content-MD5 a third time.
                s3={"addressing_style": "path", "payload_signing_enabled": False},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                max_pool_connections=settings.transfer_concurrency * 2,
                retries={"max_attempts": 5, "mode": "standard"},
            ),
        )
        # botocore asks for `Expect: 100-continue` before every body: a round trip for an
        # interim answer before the bytes go, per object. Worth it only where a refused request
        # would waste a large body, so only multipart parts keep it.
        events = self.client.meta.events
        events.unregister("before-call.s3", add_expect_header)
        events.register("before-call.s3.UploadPart", add_expect_header)
        self._transfer_config = TransferConfig(
            multipart_threshold=settings.s3_multipart_threshold_bytes,
            multipart_chunksize=settings.s3_part_size_bytes,
            max_concurrency=2,
        )
        # s3transfer reads a stream up to 10 parts ahead of what it sends; two parts in memory
        # are enough to keep two uploads busy (see PARTS_IN_MEMORY).
        self._transfer_config.max_in_memory_upload_chunks = PARTS_IN_MEMORY - 1
        # boto3 is blocking: each upload runs on its own thread, pulling bytes from the loop.
        self._threads = ThreadPoolExecutor(
            max_workers=settings.transfer_concurrency, thread_name_prefix="s3-upload"
        )

    @property
    def endpoint_url(self) -> str:
        url: str = self.client.meta.endpoint_url
        return url

    async def upload(
        self,
        bucket: str,
        key: str,
        chunks: AsyncIterator[bytes],
        tally: ByteTally,
        content_type: str,
        unavailable: Callable[[str], Exception],
    ) -> None:
        """Stream `chunks` to `key`; `unavailable(reason)` is the error for a store that is down."""
        loop = asyncio.get_running_loop()
        reader = BlockingReader(chunks, loop, tally)
        started = time.perf_counter()
        try:
            await loop.run_in_executor(
                self._threads,
                lambda: self.client.upload_fileobj(
                    reader,
                    bucket,
                    key,
                    # Each part carries its CRC32, which S3 checks: the client computes
                    # checksums only when asked (see the client's config).
                    ExtraArgs={"ContentType": content_type, "ChecksumAlgorithm": "CRC32"},
                    Config=self._transfer_config,
                ),
            )
        except Exception as exc:
            if reader.failure is not None:
                raise reader.failure from None
            if isinstance(exc, ClientError) and _status(exc) < 500:
                metrics.UPLOAD_ERRORS.labels("multipart", "refused").inc()
                raise TransientSourceError(f"S3 refused the multipart upload: {exc}") from exc
            if isinstance(exc, BotoCoreError | ClientError):
                metrics.UPLOAD_ERRORS.labels("multipart", "unavailable").inc()
                raise unavailable(f"S3 multipart upload failed: {exc}") from exc
            raise
        metrics.UPLOAD_DURATION.labels("multipart").observe(time.perf_counter() - started)

    async def copy(
        self, bucket: str, source_key: str, key: str, unavailable: Callable[[str], Exception]
    ) -> None:
        """Copy the object under `source_key` to `key` inside the store: no byte passes through
        the worker (CopyObject, or UploadPartCopy by parts above the multipart threshold)."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            await loop.run_in_executor(
                self._threads,
                lambda: self.client.copy(
                    {"Bucket": bucket, "Key": source_key},
                    bucket,
                    key,
                    Config=self._transfer_config,
                ),
            )
        except ClientError as exc:
            if _status(exc) < 500:
                metrics.UPLOAD_ERRORS.labels("copy", "refused").inc()
                raise TransientSourceError(f"S3 refused the copy into {key}: {exc}") from exc
            metrics.UPLOAD_ERRORS.labels("copy", "unavailable").inc()
            raise unavailable(f"S3 copy failed: {exc}") from exc
        except BotoCoreError as exc:
            metrics.UPLOAD_ERRORS.labels("copy", "unavailable").inc()
            raise unavailable(f"S3 copy failed: {exc}") from exc
        metrics.UPLOAD_DURATION.labels("copy").observe(time.perf_counter() - started)

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)


def _status(error: ClientError) -> int:
    status: int = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
    return status
