"""Read-only access to the object store: presigned download URLs for stored images, objects'
bytes streamed (for archives), and whether the bucket answers."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import aiohttp
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from api.settings import Settings
from domain.s3_signing import DownloadLinks, RequestSigner, S3Account


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


class ObjectMissing(Exception):
    """The store has no object under a key (deleted behind the catalogue's back), or one of
    another size than the catalogue records."""


class StoreUnavailable(Exception):
    """The store did not answer, or answered with a server error."""


class ObjectReader:
    """Streams objects' bytes from S3 on aiohttp, a chunk at a time (never a whole object in
    memory), with requests signed here (domain/s3_signing/: one HMAC a request, no botocore
    pipeline), at the address the services use. Made and closed by the app's lifespan."""

    def __init__(self, settings: Settings, *, connections: int) -> None:
        account = S3Account(
            endpoint_url=settings.s3_endpoint_url,
            region=settings.aws_region,
            access_key_id=settings.aws_access_key_id,
            secret_access_key=settings.aws_secret_access_key,
        )
        self._signer = RequestSigner(account)
        # botocore knows the endpoint of a bucket on AWS itself, when none is set.
        endpoint = (
            settings.s3_endpoint_url
            or boto3.client("s3", region_name=settings.aws_region).meta.endpoint_url
        )
        self._endpoint = endpoint.rstrip("/")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(sock_connect=10, sock_read=60),
            cookie_jar=aiohttp.DummyCookieJar(),
            # The bytes go out as they come: no decoding of a Content-Encoding on the way.
            auto_decompress=False,
        )

    async def close(self) -> None:
        await self._session.close()

    async def size(self, bucket: str, key: str) -> int:
        """The object's size (a HEAD); ObjectMissing when there is none."""
        url = self._url(bucket, key)
        try:
            async with self._session.head(url, headers=self._signed("HEAD", url, {})) as answer:
                if answer.status == 404:
                    raise ObjectMissing(f"no object under {key}")
                if answer.status != 200:
                    raise StoreUnavailable(f"S3 answered {answer.status} to a HEAD of {key}")
                return int(answer.headers.get("Content-Length", "-1"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StoreUnavailable(f"S3 did not answer: {exc!r}") from exc

    async def list_sizes(
        self, bucket: str, prefix: str, start_after: str, token: str | None = None
    ) -> tuple[list[tuple[str, int]], str | None]:
        """One page (up to 1,000) of the keys under `prefix` after `start_after`, in key order,
        with their sizes (ListObjectsV2); and the token of the next page, None at the end."""
        params = {"list-type": "2", "max-keys": "1000", "prefix": prefix}
        if token is not None:
            params["continuation-token"] = token
        else:
            params["start-after"] = start_after
        # Written as SigV4 signs it: every name and value percent-encoded, sorted.
        query = "&".join(
            f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}"
            for name, value in sorted(params.items())
        )
        url = f"{self._endpoint}/{quote(bucket)}?{query}"
        try:
            async with self._session.get(url, headers=self._signed("GET", url, {})) as answer:
                body = await answer.read()
                if answer.status != 200:
                    raise StoreUnavailable(f"S3 answered {answer.status} to a listing of {prefix}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StoreUnavailable(f"S3 did not answer: {exc!r}") from exc
        root = ElementTree.fromstring(body)  # noqa: S314 - our own store's answer
        found = [
            (_text(item, "Key"), int(_text(item, "Size")))
            for item in root
            if _local_name(item.tag) == "Contents"
        ]
        truncated = _text(root, "IsTruncated") == "true"
        return found, (_text(root, "NextContinuationToken") or None) if truncated else None

    @asynccontextmanager
    async def open(
        self, bucket: str, key: str, first: int = 0, length: int | None = None
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """The object's bytes from `first`, `length` of them (to its end when None), as
        chunks: the request is sent and answered on entry, the body read as it is iterated."""
        url = self._url(bucket, key)
        headers = {}
        if first or length is not None:
            last = "" if length is None else str(first + length - 1)
            headers["Range"] = f"bytes={first}-{last}"
        try:
            async with self._session.get(url, headers=self._signed("GET", url, headers)) as answer:
                if answer.status == 404:
                    raise ObjectMissing(f"no object under {key}")
                if answer.status not in (200, 206):
                    raise StoreUnavailable(f"S3 answered {answer.status} to a GET of {key}")
                yield _chunks(answer, key)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StoreUnavailable(f"S3 did not answer: {exc!r}") from exc

    def _url(self, bucket: str, key: str) -> str:
        # The key as S3 names it, percent-encoded once on the wire (keys hold `%` themselves).
        return f"{self._endpoint}/{quote(bucket)}/{quote(key, safe='/-_.~')}"

    def _signed(self, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
        try:
            return self._signer.headers(method, url, headers)
        except NoCredentialsError:
            raise StoreUnavailable(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and its secret"
            ) from None


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element: ElementTree.Element, name: str) -> str:
    for child in element:
        if _local_name(child.tag) == name:
            return child.text or ""
    return ""


async def _chunks(answer: aiohttp.ClientResponse, key: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in answer.content.iter_any():
            yield chunk
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise StoreUnavailable(f"S3 stopped sending {key}: {exc!r}") from exc
