"""The object store: streams a file's bytes into S3 under a key derived from its source id."""

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from worker.settings import Settings
from worker.sources.base import TransientSourceError


@dataclass(frozen=True)
class StoredObject:
    key: str
    storage_path: str
    size: int
    md5_checksum: str
    content_type: str


class ObjectStore:
    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.s3_bucket
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=settings.aws_secret_access_key,
            region_name=settings.aws_region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                max_pool_connections=settings.worker_concurrency * 2,
                retries={"max_attempts": 5, "mode": "standard"},
            ),
        )
        self._transfer_config = TransferConfig(
            multipart_threshold=settings.s3_multipart_threshold_bytes,
            multipart_chunksize=settings.s3_part_size_bytes,
            max_concurrency=2,
        )
        # boto3 is blocking: each upload runs on its own thread, pulling bytes from the loop.
        self._threads = ThreadPoolExecutor(
            max_workers=settings.worker_concurrency, thread_name_prefix="s3-upload"
        )

    @staticmethod
    def key_for(source: str, source_file_id: str) -> str:
        """Deterministic, so a retried or repeated transfer overwrites instead of duplicating.
        File names never appear in keys: they stay in the database, whatever they contain."""
        return f"{source}/{quote(source_file_id, safe='-_.')}"

    async def upload(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str,
        expected_size: int | None,
        expected_md5: str | None,
    ) -> StoredObject:
        """Stream `chunks` to `key`. If the bytes do not match the expected size or MD5, the
        upload is abandoned before it completes, so nothing appears under `key`. The stored
        content type is the one the first bytes show, when they show one."""
        first = await anext(chunks, b"")
        content_type = sniff_image_type(first) or content_type
        chunks = _prepend(first, chunks)
        loop = asyncio.get_running_loop()
        reader = _VerifyingReader(
            chunks,
            loop,
            expected_size=expected_size,
            expected_md5=expected_md5,
        )
        try:
            await loop.run_in_executor(
                self._threads,
                lambda: self._client.upload_fileobj(
                    reader,
                    self.bucket,
                    key,
                    ExtraArgs={"ContentType": content_type},
                    Config=self._transfer_config,
                ),
            )
        except Exception:
            if reader.failure is not None:
                raise reader.failure from None
            raise
        return StoredObject(
            key=key,
            storage_path=f"s3://{self.bucket}/{key}",
            size=reader.size,
            md5_checksum=reader.md5.hexdigest(),
            content_type=content_type,
        )

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)


_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"BM", "image/bmp"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (8, b"WEBP", "image/webp"),
    (8, b"avif", "image/avif"),
    (8, b"heic", "image/heic"),
    (8, b"heix", "image/heic"),
    (8, b"mif1", "image/heif"),
)


def sniff_image_type(head: bytes) -> str | None:
    """The image type the leading bytes announce, if any. Sources without metadata (the
    key-less Drive path) only know a type from the bytes themselves."""
    for offset, signature, mime_type in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            if signature == b"WEBP" and not head.startswith(b"RIFF"):
                continue
            return mime_type
    return None


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


class _VerifyingReader(io.RawIOBase):
    """A blocking file object over an async byte stream, for boto3 running on another thread.
    Counts and hashes the bytes as they pass and refuses to reach end-of-file on a mismatch."""

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        loop: asyncio.AbstractEventLoop,
        *,
        expected_size: int | None,
        expected_md5: str | None,
    ) -> None:
        self._chunks = chunks
        self._loop = loop
        self._expected_size = expected_size
        self._expected_md5 = expected_md5
        self._buffer = bytearray()
        self._eof = False
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.failure: Exception | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._read(size)
        except Exception as exc:
            self.failure = exc
            raise

    def _read(self, size: int) -> bytes:
        while not self._eof and (size < 0 or len(self._buffer) < size):
            chunk = asyncio.run_coroutine_threadsafe(self._next_chunk(), self._loop).result()
            if chunk is None:
                self._eof = True
                self._verify()
            else:
                self.size += len(chunk)
                self.md5.update(chunk)
                self._buffer.extend(chunk)
        end = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        data = bytes(self._buffer[:end])
        del self._buffer[:end]
        return data

    async def _next_chunk(self) -> bytes | None:
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            return None

    def _verify(self) -> None:
        if self._expected_size is not None and self.size != self._expected_size:
            raise TransientSourceError(
                f"received {self.size} bytes but the source announced {self._expected_size}"
            )
        digest = self.md5.hexdigest()
        if self._expected_md5 and digest != self._expected_md5.lower():
            raise TransientSourceError(
                f"MD5 of the received bytes {digest} differs from the source's {self._expected_md5}"
            )
