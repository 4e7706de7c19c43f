"""The object store: streams a file's bytes into S3 under a key derived from its source id."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import logging
import time
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote
from xml.etree import ElementTree

import boto3
import httpx
from boto3.s3.transfer import TransferConfig
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.handlers import add_expect_header

from worker import metrics
from worker.http_client import create_store_client
from worker.settings import Settings
from worker.sources.base import TransientSourceError
from worker.sources.checksums import MD5, new_hasher, normalized

log = logging.getLogger("worker.storage")
# What a multipart upload holds in memory at most, in parts: those s3transfer reads ahead and
# the one the stream is filling.
PARTS_IN_MEMORY = 3
# While the store is down, how long between two checks that it is back.
PROBE_SECONDS = (0.5, 10.0)


class NotStored(Exception):
    """The store has no object to read under a key (or refuses to give it)."""


class StoreUnavailable(Exception):
    """Our own object store is down (no answer, or a server error). Not the source's fault: a
    transfer waits for the store instead of spending the file's attempts."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    storage_path: str
    size: int
    content_type: str
    # The bytes' checksums by algorithm: always MD5, and every one the source declared (and so
    # that was checked).
    checksums: dict[str, str]

    @property
    def md5_checksum(self) -> str:
        return self.checksums[MD5]


class ObjectStore:
    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.s3_bucket
        session = boto3.Session(
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=settings.aws_secret_access_key,
            region_name=settings.aws_region,
        )
        self._client: Any = session.client(
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
        events = self._client.meta.events
        events.unregister("before-call.s3", add_expect_header)
        events.register("before-call.s3.UploadPart", add_expect_header)
        # Single PUTs go out on the worker's async HTTP client, signed by botocore: a
        # botocore call costs about a millisecond of CPU per object in its own pipeline and a
        # thread hop, more than everything else a small file costs (bench/transfer_floor.py).
        self._credentials = session.get_credentials()
        self._region = settings.aws_region
        self._endpoint = self._client.meta.endpoint_url.rstrip("/")
        self._http = create_store_client(settings)
        self._available = asyncio.Event()
        self._available.set()
        self._probe: asyncio.Task[None] | None = None
        self._single_request_limit = settings.s3_multipart_threshold_bytes
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
        expected_checksums: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """Stream `chunks` to `key`. If the bytes do not match the expected size or any of the
        expected checksums, the upload is abandoned before it completes, so nothing appears
        under `key`."""
        tally = _Tally(expected_size, expected_checksums or {})
        if expected_size is not None and expected_size < self._single_request_limit:
            await self._put_small(key, chunks, tally, content_type)
        else:
            await self._put_streamed(key, chunks, tally, content_type)
        return StoredObject(
            key=key,
            storage_path=f"s3://{self.bucket}/{key}",
            size=tally.size,
            content_type=content_type,
            checksums=tally.checksums(),
        )

    async def put_bytes(self, key: str, body: bytes, *, content_type: str) -> None:
        """Store `body` under `key` in one PUT (a thumbnail: small, made here)."""
        tally = _Tally(len(body), {})
        await self._put_small(key, _one_chunk(body), tally, content_type)

    async def read_into(self, key: str, sink: IO[bytes], *, max_bytes: int) -> int:
        """Copy the object under `key` into `sink` as it arrives; its size. NotStored when
        there is no such object, or it is larger than `max_bytes`."""
        url = self._object_url(key)
        try:
            async with self._http.stream(
                "GET", url, headers=self._signed("GET", url, {})
            ) as response:
                if response.status_code == 404:
                    raise NotStored(f"no object under {key} in the store")
                if response.status_code != 200:
                    await response.aread()
                    if response.status_code >= 500:
                        raise self._unavailable(f"S3 answered {response.status_code} to a download")
                    raise NotStored(
                        f"S3 answered {response.status_code} "
                        f"{_error_code(response.text) or ''} to a download of {key}".strip()
                    )
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise NotStored(f"larger than {max_bytes:,} bytes")
                    sink.write(chunk)
                return size
        except httpx.TransportError as exc:
            raise self._unavailable(f"S3 did not answer: {exc!r}") from exc

    async def delete(self, key: str) -> None:
        """Delete the object under `key`; deleting one that is not there succeeds (S3 answers
        204 either way), so a repeated deletion is harmless."""
        url = self._object_url(key)
        try:
            response = await self._http.delete(url, headers=self._signed("DELETE", url, {}))
        except httpx.TransportError as exc:
            raise self._unavailable(f"S3 did not answer: {exc!r}") from exc
        if response.status_code not in (200, 204, 404):
            if response.status_code >= 500:
                raise self._unavailable(f"S3 answered {response.status_code} to a deletion")
            raise self._refusal(response)

    async def _put_small(
        self, key: str, chunks: AsyncIterator[bytes], tally: _Tally, content_type: str
    ) -> None:
        """One PUT, for a file whose announced size is below the multipart threshold: cheaper
        than a transfer manager per file, and memory stays bounded by that threshold."""
        parts: list[bytes] = []
        async for chunk in chunks:
            tally.add(chunk)
            parts.append(chunk)
        tally.verify()
        # One copy of the bytes at most (none when they came in one chunk).
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        headers = {
            "Content-Type": content_type,
            # S3 checks the bytes it received against this, end to end.
            "Content-MD5": base64.b64encode(tally.md5.digest()).decode(),
        }
        url = self._object_url(key)
        started = time.perf_counter()
        try:
            response = await self._http.put(
                url, content=body, headers=self._signed("PUT", url, headers)
            )
        except httpx.TransportError as exc:
            metrics.UPLOAD_ERRORS.labels("put", "unavailable").inc()
            raise self._unavailable(f"S3 did not answer: {exc!r}") from exc
        if response.status_code != 200:
            kind = "unavailable" if response.status_code >= 500 else "refused"
            metrics.UPLOAD_ERRORS.labels("put", kind).inc()
            raise self._refusal(response)
        metrics.UPLOAD_DURATION.labels("put").observe(time.perf_counter() - started)

    def _object_url(self, key: str) -> str:
        # The key as S3 names it, percent-encoded once on the wire (keys hold `%` themselves).
        return f"{self._endpoint}/{quote(self.bucket)}/{quote(key, safe='/-_.~')}"

    def _signed(self, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
        """`headers` and the SigV4 authorization for the request, as botocore signs them
        (payload unsigned: the Content-MD5 protects it)."""
        request = AWSRequest(method=method, url=url, headers=headers)
        request.context["client_config"] = self._client.meta.config
        if self._credentials is None:
            raise self._unavailable("no S3 credentials: set AWS_ACCESS_KEY_ID and its secret")
        credentials = self._credentials.get_frozen_credentials()
        S3SigV4Auth(credentials, "s3", self._region).add_auth(request)
        return dict(request.headers.items())

    def _refusal(self, response: httpx.Response) -> Exception:
        answer = f"S3 answered {response.status_code} {_error_code(response.text) or ''}".strip()
        if response.status_code >= 500:
            return self._unavailable(answer)
        # The store works but refused this request: damaged bytes (BadDigest), or a setting to
        # fix (AccessDenied, NoSuchBucket). A failure of the file's transfer, retried and then
        # recorded with this reason, so that nothing loops on a refusal.
        return TransientSourceError(f"{answer} to the upload")

    def _unavailable(self, reason: str) -> StoreUnavailable:
        """The store is down: transfers wait until a probe finds it back."""
        if self._available.is_set():
            log.warning("store.unavailable bucket=%s reason=%s", self.bucket, reason)
            self._available.clear()
            self._probe = asyncio.get_running_loop().create_task(self._wait_for_store())
        return StoreUnavailable(reason)

    async def wait_until_available(self) -> None:
        """Return at once while the store works; while it is down, when it is back."""
        await self._available.wait()

    async def _wait_for_store(self) -> None:
        pause, longest = PROBE_SECONDS
        while True:
            await asyncio.sleep(pause)
            url = f"{self._endpoint}/{quote(self.bucket)}"
            try:
                response = await self._http.head(url, headers=self._signed("HEAD", url, {}))
                # Any answer but a server error means the store is back (a key allowed to put
                # objects may not be allowed to read the bucket: 403 counts too).
                if response.status_code < 500:
                    break
            except (httpx.TransportError, StoreUnavailable):
                pass
            pause = min(longest, pause * 2)
        log.warning("store.available bucket=%s", self.bucket)
        self._available.set()

    async def _put_streamed(
        self, key: str, chunks: AsyncIterator[bytes], tally: _Tally, content_type: str
    ) -> None:
        """boto3's transfer manager (multipart above the threshold) on a worker thread, reading
        from the event loop's stream as it goes."""
        loop = asyncio.get_running_loop()
        reader = _BlockingReader(chunks, loop, tally)
        started = time.perf_counter()
        try:
            await loop.run_in_executor(
                self._threads,
                lambda: self._client.upload_fileobj(
                    reader,
                    self.bucket,
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
                raise self._unavailable(f"S3 multipart upload failed: {exc}") from exc
            raise
        metrics.UPLOAD_DURATION.labels("multipart").observe(time.perf_counter() - started)

    async def aclose(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        await self._http.aclose()
        self._threads.shutdown(wait=False, cancel_futures=True)


def _status(error: ClientError) -> int:
    status: int = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
    return status


def _error_code(body: str) -> str | None:
    """The `<Code>` of an S3 error answer, if it has one."""
    try:
        return ElementTree.fromstring(body).findtext("Code")  # noqa: S314 - our own store's answer
    except ElementTree.ParseError:
        return None


async def _one_chunk(body: bytes) -> AsyncIterator[bytes]:
    yield body


class _Tally:
    """Counts and hashes bytes as they pass, and checks them against what the source announced:
    its size and every checksum it declared. MD5 is always computed (S3 checks the upload
    against it); another algorithm costs a pass of its own, so it is computed only when the
    source declared it."""

    def __init__(self, expected_size: int | None, expected_checksums: Mapping[str, str]) -> None:
        self._expected_size = expected_size
        self._expected = normalized(expected_checksums)
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        self._others = {
            algorithm: new_hasher(algorithm) for algorithm in self._expected if algorithm != MD5
        }

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._expected_size is not None and self.size > self._expected_size:
            raise TransientSourceError(
                f"received more than the {self._expected_size} bytes the source announced"
            )
        self.md5.update(chunk)
        for hasher in self._others.values():
            hasher.update(chunk)

    def checksums(self) -> dict[str, str]:
        """What was received, by algorithm: MD5, and each algorithm the source declared."""
        found = {MD5: self.md5.hexdigest()}
        found.update((algorithm, h.hexdigest()) for algorithm, h in self._others.items())
        return found

    def verify(self) -> None:
        if self._expected_size is not None and self.size != self._expected_size:
            raise TransientSourceError(
                f"received {self.size} bytes but the source announced {self._expected_size}"
            )
        received = self.checksums()
        for algorithm, expected in self._expected.items():
            if received[algorithm] != expected:
                raise TransientSourceError(
                    f"{algorithm} of the received bytes {received[algorithm]} differs from the "
                    f"source's {expected}"
                )


class _BlockingReader(io.RawIOBase):
    """A blocking file object over an async byte stream, for boto3 running on another thread.
    It refuses to reach end-of-file unless the tally of the bytes checks out."""

    def __init__(
        self, chunks: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop, tally: _Tally
    ) -> None:
        self._chunks = chunks
        self._loop = loop
        self._tally = tally
        self._buffer = bytearray()
        self._eof = False
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
                self._tally.verify()
            else:
                self._tally.add(chunk)
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
