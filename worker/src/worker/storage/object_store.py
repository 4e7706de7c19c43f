"""The object store: streams a file's bytes into S3 under the key of their content (their
SHA-256, domain/contents/), once whatever the files holding them."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from typing import IO
from urllib.parse import quote
from xml.etree import ElementTree

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from domain.contents.repository import content_key, source_file_key
from domain.imports.stored import StoredObject
from domain.s3_signing import RequestSigner, S3Account
from domain.sources.records import SHA256, normalized_checksums
from worker import metrics
from worker.http_client import create_store_session
from worker.settings import Settings
from worker.sources.base import TransientSourceError
from worker.storage.multipart_upload import MultipartUploads
from worker.storage.outage import Outage
from worker.storage.upload_tally import ByteTally

log = logging.getLogger("worker.storage")


class NotStored(Exception):
    """The store has no object to read under a key (or refuses to give it)."""


class StoreUnavailable(Exception):
    """Our own object store is down (no answer, or a server error). Not the source's fault: a
    transfer waits for the store instead of spending the file's attempts."""


class ObjectStore:
    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.s3_bucket
        account = S3Account(
            endpoint_url=settings.s3_endpoint_url,
            region=settings.aws_region,
            access_key_id=settings.aws_access_key_id,
            secret_access_key=settings.aws_secret_access_key,
        )
        self._multipart = MultipartUploads(settings, account)
        # Single PUTs go out on an aiohttp session of the worker's, signed here
        # (domain/s3_signing/): a botocore call costs about a millisecond of CPU per object in
        # its own pipeline and a thread hop, more than everything else a small file costs
        # (bench/transfer_floor.py); httpx's layer above aiohttp cost a fifth of the rest
        # (worker/http_client.py).
        self._signer = RequestSigner(account)
        self._endpoint = self._multipart.endpoint_url.rstrip("/")
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._outage = Outage(
            "store",
            f"bucket={self.bucket}",
            self._answers,
            expected=(*_NO_ANSWER, StoreUnavailable),
        )
        self._single_request_limit = settings.s3_multipart_threshold_bytes

    @staticmethod
    def key_for(source: str, source_file_id: str) -> str:
        """An object per source file: where images were stored before contents."""
        return source_file_key(source, source_file_id)

    @staticmethod
    def staging_key_for(source: str, source_file_id: str) -> str:
        """Where a large file streams while its SHA-256 is not known yet: deterministic, so a
        retried transfer overwrites it instead of leaving another."""
        return f"staging/{source_file_key(source, source_file_id)}"

    async def upload_content(
        self,
        chunks: AsyncIterator[bytes],
        *,
        staging_key: str,
        is_stored: Callable[[str, int], Awaitable[bool]],
        content_type: str,
        expected_size: int | None,
        expected_checksums: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """Stream `chunks` into the object of their content, unless `is_stored(sha256, size)`
        says the store holds it already: then nothing is stored (`reused`). The SHA-256 is
        known only once the bytes have passed: a file below the multipart threshold is held
        whole for its single PUT anyway, so it goes straight to its content's key; a larger
        one streams to `staging_key` and is copied inside the store (no byte through the
        worker) to its content's key, or dropped when the content is known (a transfer that
        dies leaves it to the sweep, worker/contents/sweep.py). A larger one whose SHA-256 the
        source listed (Drive's sha256Checksum, Nextcloud's SHA256) streams straight to that
        content's key (`is_stored` is not asked: the listing matched it): its bytes are
        checked against it before the upload completes, so other bytes never appear there,
        and no copy doubles the store's work. If the bytes do not match the expected size or
        checksums, nothing is stored."""
        expected = normalized_checksums(expected_checksums or {})
        tally = ByteTally(expected_size, expected)
        if expected_size is not None and expected_size < self._single_request_limit:
            body = await _whole(chunks, tally)
            key = content_key(tally.sha256.hexdigest())
            reused = await is_stored(tally.sha256.hexdigest(), tally.size)
            if not reused:
                await self._put(key, body, tally, content_type)
        elif listed := expected.get(SHA256):
            # Not asked of `is_stored`: the listing matched listed SHA-256s with stored contents
            # already; one stored since is overwritten with the same bytes.
            key, reused = content_key(listed), False
            await self._multipart.upload(
                self.bucket, key, chunks, tally, content_type, self._unavailable
            )
        else:
            await self._multipart.upload(
                self.bucket, staging_key, chunks, tally, content_type, self._unavailable
            )
            key = content_key(tally.sha256.hexdigest())
            reused = await is_stored(tally.sha256.hexdigest(), tally.size)
            if not reused:
                await self._multipart.copy(self.bucket, staging_key, key, self._unavailable)
            await self.delete(staging_key)
        return self._stored(key, tally, content_type, reused=reused)

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
        tally = ByteTally(expected_size, expected_checksums or {})
        if expected_size is not None and expected_size < self._single_request_limit:
            await self._put_small(key, chunks, tally, content_type)
        else:
            await self._multipart.upload(
                self.bucket, key, chunks, tally, content_type, self._unavailable
            )
        return self._stored(key, tally, content_type)

    def _stored(
        self, key: str, tally: ByteTally, content_type: str, *, reused: bool = False
    ) -> StoredObject:
        """What was stored under `key` (or found there already: `reused`)."""
        return StoredObject(
            key=key,
            storage_path=f"s3://{self.bucket}/{key}",
            size=tally.size,
            content_type=content_type,
            checksums=tally.checksums(),
            reused=reused,
        )

    async def put_bytes(self, key: str, body: bytes, *, content_type: str) -> None:
        """Store `body` under `key` in one PUT (a thumbnail: small, made here)."""
        tally = ByteTally(len(body), {})
        await self._put_small(key, _one_chunk(body), tally, content_type)

    async def copy(self, source_key: str, key: str) -> None:
        """Copy an object inside the store (no byte through the worker)."""
        await self._multipart.copy(self.bucket, source_key, key, self._unavailable)

    async def list_keys(self, prefix: str, *, older_than: datetime) -> AsyncIterator[list[str]]:
        """The keys under `prefix` of objects last written before `older_than`, a page
        (up to 1,000) at a time."""
        client = self._multipart.client
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        iterator = iter(pages)
        while True:
            try:
                page = await asyncio.to_thread(next, iterator, None)
            except (BotoCoreError, ClientError) as exc:
                raise self._unavailable(f"S3 listing failed: {exc}") from exc
            if page is None:
                return
            yield [
                obj["Key"] for obj in page.get("Contents", []) if obj["LastModified"] < older_than
            ]

    async def exists(self, key: str) -> bool:
        """Whether an object is under `key` (a HEAD)."""
        url = self._object_url(key)
        try:
            async with self._http.head(url, headers=self._signed("HEAD", url, {})) as response:
                status = response.status
        except _NO_ANSWER as exc:
            raise self._unavailable(f"S3 did not answer: {exc!r}") from exc
        if status >= 500:
            raise self._unavailable(f"S3 answered {status} to a HEAD")
        return status == 200

    async def read_into(self, key: str, sink: IO[bytes], *, max_bytes: int) -> int:
        """Copy the object under `key` into `sink` as it arrives; its size. NotStored when
        there is no such object, or it is larger than `max_bytes`."""
        url = self._object_url(key)
        try:
            async with self._http.get(url, headers=self._signed("GET", url, {})) as response:
                if response.status == 404:
                    raise NotStored(f"no object under {key} in the store")
                if response.status != 200:
                    body = await response.text(errors="replace")
                    if response.status >= 500:
                        raise self._unavailable(f"S3 answered {response.status} to a download")
                    raise NotStored(
                        f"S3 answered {response.status} "
                        f"{_error_code(body) or ''} to a download of {key}".strip()
                    )
                size = 0
                async for chunk in response.content.iter_any():
                    size += len(chunk)
                    if size > max_bytes:
                        raise NotStored(f"larger than {max_bytes:,} bytes")
                    sink.write(chunk)
                return size
        except _NO_ANSWER as exc:
            raise self._unavailable(f"S3 did not answer: {exc!r}") from exc

    async def delete(self, key: str) -> None:
        """Delete the object under `key`; deleting one that is not there succeeds (S3 answers
        204 either way), so a repeated deletion is harmless."""
        url = self._object_url(key)
        try:
            async with self._http.delete(url, headers=self._signed("DELETE", url, {})) as response:
                body = await response.text(errors="replace")
        except _NO_ANSWER as exc:
            raise self._unavailable(f"S3 did not answer: {exc!r}") from exc
        if response.status not in (200, 204, 404):
            if response.status >= 500:
                raise self._unavailable(f"S3 answered {response.status} to a deletion")
            raise self._refusal(response.status, body)

    async def _put_small(
        self, key: str, chunks: AsyncIterator[bytes], tally: ByteTally, content_type: str
    ) -> None:
        """One PUT, for a file whose announced size is below the multipart threshold: cheaper
        than a transfer manager per file, and memory stays bounded by that threshold."""
        await self._put(key, await _whole(chunks, tally), tally, content_type)

    async def _put(self, key: str, body: bytes, tally: ByteTally, content_type: str) -> None:
        headers = {
            "Content-Type": content_type,
            # S3 checks the bytes it received against this, end to end.
            "Content-MD5": base64.b64encode(tally.md5.digest()).decode(),
        }
        url = self._object_url(key)
        started = time.perf_counter()
        try:
            async with self._http.put(
                url, data=body, headers=self._signed("PUT", url, headers)
            ) as response:
                status = response.status
                answer = (await response.read()).decode(errors="replace")
        except _NO_ANSWER as exc:
            metrics.UPLOAD_ERRORS.labels("put", "unavailable").inc()
            raise self._unavailable(f"S3 did not answer: {exc!r}") from exc
        if status != 200:
            kind = "unavailable" if status >= 500 else "refused"
            metrics.UPLOAD_ERRORS.labels("put", kind).inc()
            raise self._refusal(status, answer)
        metrics.UPLOAD_DURATION.labels("put").observe(time.perf_counter() - started)

    def _object_url(self, key: str) -> str:
        # The key as S3 names it, percent-encoded once on the wire (keys hold `%` themselves).
        return f"{self._endpoint}/{quote(self.bucket)}/{quote(key, safe='/-_.~')}"

    def _signed(self, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
        try:
            return self._signer.headers(method, url, headers)
        except NoCredentialsError:
            raise self._unavailable(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and its secret"
            ) from None

    @property
    def _http(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running event loop, as aiohttp requires.
        if self._session is None:
            self._session = create_store_session(self._settings)
        return self._session

    def _refusal(self, status: int, body: str) -> Exception:
        answer = f"S3 answered {status} {_error_code(body) or ''}".strip()
        if status >= 500:
            return self._unavailable(answer)
        # The store works but refused this request: damaged bytes (BadDigest), or a setting to
        # fix (AccessDenied, NoSuchBucket). A failure of the file's transfer, retried and then
        # recorded with this reason, so that nothing loops on a refusal.
        return TransientSourceError(f"{answer} to the upload")

    def _unavailable(self, reason: str) -> StoreUnavailable:
        """The store is down: transfers wait until a probe finds it back."""
        self._outage.begin(reason)
        return StoreUnavailable(reason)

    async def wait_until_available(self) -> None:
        """Return at once while the store works; while it is down, when it is back."""
        await self._outage.over()

    async def _answers(self) -> bool:
        # Any answer but a server error means the store is back (a key allowed to put objects
        # may not be allowed to read the bucket: 403 counts too).
        url = f"{self._endpoint}/{quote(self.bucket)}"
        async with self._http.head(url, headers=self._signed("HEAD", url, {})) as response:
            return response.status < 500

    async def aclose(self) -> None:
        self._outage.cancel()
        if self._session is not None:
            await self._session.close()
        self._multipart.close()


# What "no answer at all" is from aiohttp: a connection refused, cut or reset, a bad answer,
# and a timeout (TimeoutError itself when the wait for a free connection runs out).
_NO_ANSWER = (aiohttp.ClientError, TimeoutError)


def _error_code(body: str) -> str | None:
    """The `<Code>` of an S3 error answer, if it has one."""
    try:
        return ElementTree.fromstring(body).findtext("Code")  # noqa: S314 - our own store's answer
    except ElementTree.ParseError:
        return None


async def _whole(chunks: AsyncIterator[bytes], tally: ByteTally) -> bytes:
    """All of a small file's bytes, tallied and checked."""
    parts: list[bytes] = []
    async for chunk in chunks:
        tally.add(chunk)
        parts.append(chunk)
    tally.verify()
    # One copy of the bytes at most (none when they came in one chunk).
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def _one_chunk(body: bytes) -> AsyncIterator[bytes]:
    yield body
