"""Public S3-compatible buckets, read without credentials through the S3 REST API.

A folder is a key prefix: `ListObjectsV2` (`GET /?list-type=2`) with `delimiter=/` lists its
objects and rolls the keys below it up into "subfolders" (`CommonPrefixes`), at most 1,000 a
page, resumed from the page's `NextContinuationToken` (opaque and stateless: another worker
resumes it). The pipeline lists subfolders as folders of their own when an import is recursive.
A file is `GET /<bucket>/<key>`, streamed.

Plain httpx requests, not boto3: every request is anonymous (nothing to sign), the listing is
one GET whose XML `public_s3_xml` reads, and the worker's transfers already stream httpx
responses; boto3 would bring a synchronous client to run in threads and its own retries, which
would hide the answers this module must classify (SlowDown, AccessDenied, region redirects).
What an error answer means is `public_s3_errors`; how a listed object becomes the pipeline's
record, and its key a URL path, `public_s3_objects`, whose docstring says what each field holds.

Amazon: requests go to `<bucket>.s3[.<region>].amazonaws.com` (path style when the bucket
name has dots, which TLS's wildcard certificate does not cover); a bucket in another region
than the link said answers 301 `PermanentRedirect` (or 307 while its DNS settles, or 400) with
`x-amz-bucket-region`, and the request is sent again to that region, which is remembered. Any
other redirect is an error: the client follows none (see `worker.sources.addresses`, which
also keeps the worker to addresses the address policy allows).
"""

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Self
from urllib.parse import quote, urlsplit

import httpx

from domain.address_policy import IPNetwork
from domain.sources.public_s3 import ALLOWED_NETWORKS_SETTING, PublicS3Folder, PublicS3Settings
from worker.sources.addresses import RefusedHost, check_host, guarded_client, literal_refusal
from worker.sources.base import (
    BoundToLink,
    ConnectorDeps,
    FolderPage,
    FolderRef,
    FolderUnavailable,
    ImportLink,
    Pacer,
    PermanentSourceError,
    SourceConnector,
    SourceError,
    SourceFile,
    TransientSourceError,
)
from worker.sources.http import hold_off_if_rate_limited, open_download, send_paced
from worker.sources.public_s3_errors import classify_error
from worker.sources.public_s3_objects import object_path, source_file
from worker.sources.public_s3_xml import ListPage, UnreadableXml, parse_list_page

# ListObjectsV2 returns at most 1,000 keys a page, whatever max-keys asks.
MAX_KEYS = 1000
# A page of 1,000 keys of at most 1,024 bytes each, with their metadata, is well below this; a
# body beyond it is no listing a server should send.
MAX_LISTING_BYTES = 16 * 1024 * 1024
# Amazon's SDKs back off from SlowDown, which carries no Retry-After; some servers send one
# (MinIO: 120 s), which is honoured instead.
RATE_LIMIT_PAUSE_SECONDS = 1.0
_VIRTUAL_HOSTABLE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_AMAZON_REDIRECTS = {301, 307, 400}
NOTES = (
    "Objects uploaded in parts (their ETag is not an MD5) are checked by size only: S3 lists no "
    "checksum of their bytes. A re-import or sync finds every object unchanged by its size "
    "and ETag."
)


class PublicS3Connector(BoundToLink):
    """A `SourceConnector` for public buckets, bound to an import's `PublicS3Folder`."""

    notes: str | None = NOTES

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        pacer_for: Callable[[str], Pacer],
        page_size: int,
        allowed_networks: tuple[IPNetwork, ...],
    ) -> None:
        self._http = http
        self._pacer_for = pacer_for
        self._page_size = max(1, min(page_size, MAX_KEYS))
        self._allowed = allowed_networks
        # Shared by every copy bound to a link (`for_link` copies shallowly).
        self._pacers: dict[str, Pacer] = {}
        # Amazon buckets' regions, as their redirects named them.
        self._regions: dict[str, str] = {}

    def for_link(self, link: ImportLink) -> Self:
        if not isinstance(link.locator, PublicS3Folder):
            raise PermanentSourceError("no public bucket was recorded with this import")
        return super().for_link(link)

    async def check_folder(self, folder: FolderRef) -> str | None:
        bucket = self._bound()
        parts = urlsplit(self._bucket_url(bucket))
        host = parts.hostname or ""
        try:
            await check_host(
                host,
                parts.port or (443 if parts.scheme == "https" else 80),
                self._allowed,
                setting=ALLOWED_NETWORKS_SETTING,
            )
        except RefusedHost as exc:
            raise FolderUnavailable(exc.reason) from exc
        except OSError as exc:
            raise FolderUnavailable(f"the bucket's host {host} does not resolve: {exc}") from exc
        prefix = self._prefix(bucket, folder)
        try:
            await self._list(bucket, prefix, None, max_keys=1)
        except PermanentSourceError as exc:
            raise FolderUnavailable(f"the bucket {bucket.bucket} cannot be listed: {exc}") from exc
        # A bucket has no folder names but its keys' own: the prefix's last part, or the
        # bucket's name for the whole bucket.
        return prefix.rstrip("/").rsplit("/", 1)[-1] or bucket.bucket

    async def list_page(self, folder: FolderRef, page_token: str | None) -> FolderPage:
        bucket = self._bound()
        prefix = self._prefix(bucket, folder)
        listed = await self._list(bucket, prefix, page_token, max_keys=self._page_size)
        page = FolderPage(next_page_token=listed.next_token)
        for item in listed.objects:
            name = item.key[len(prefix) :]
            # The folder's own marker object (`photos/`, made by consoles) is not a file.
            if item.key.startswith(prefix) and name and not name.endswith("/"):
                page.files.append(source_file(bucket, item, name))
        for sub in listed.common_prefixes:
            if sub.startswith(prefix) and sub != prefix:
                page.folders.append(
                    FolderRef(f"{bucket.base_id}{sub}", name=sub[len(prefix) :].rstrip("/"))
                )
        return page

    @asynccontextmanager
    async def open_file(self, file: SourceFile) -> AsyncIterator[AsyncIterator[bytes]]:
        bucket = self._bound()
        key = file.resource_key
        if not key:
            raise PermanentSourceError("no object key was recorded for this file")
        for attempt in range(2):
            request = self._http.build_request("GET", self._object_url(bucket, key))
            try:
                async with open_download(
                    self._http,
                    request,
                    self._pacer(bucket),
                    no_answer=f"{request.url.host} did not answer",
                    failure=lambda response: self._failure(bucket, response),
                ) as chunks:
                    yield chunks
                    return
            except _RegionMoved:
                if attempt:
                    raise PermanentSourceError("Amazon redirected the bucket twice") from None

    async def _list(
        self, bucket: PublicS3Folder, prefix: str, token: str | None, *, max_keys: int
    ) -> ListPage:
        params = {
            "list-type": "2",
            "prefix": prefix,
            "delimiter": "/",
            "max-keys": str(max_keys),
            "encoding-type": "url",
        }
        if token:
            params["continuation-token"] = token
        for attempt in range(2):
            url = self._bucket_url(bucket)
            request = self._http.build_request("GET", f"{url}/", params=params)
            response = await send_paced(
                self._http,
                request,
                self._pacer(bucket),
                no_answer=f"{request.url.host} did not answer",
                stream=True,
            )
            try:
                if response.status_code != 200:
                    await response.aread()
                    raise await self._failure(bucket, response)
                body = await _bounded_body(response)
            except _RegionMoved:
                if attempt:
                    raise PermanentSourceError("Amazon redirected the bucket twice") from None
                continue
            finally:
                await response.aclose()
            try:
                return parse_list_page(body)
            except UnreadableXml as exc:
                raise TransientSourceError(f"{request.url.host} sent no listing: {exc}") from exc
        raise AssertionError("unreachable")

    async def _failure(self, bucket: PublicS3Folder, response: httpx.Response) -> SourceError:
        region = response.headers.get("x-amz-bucket-region")
        moved = region and self._regions.get(bucket.bucket) != region
        if bucket.is_aws and response.status_code in _AMAZON_REDIRECTS and region and moved:
            self._regions[bucket.bucket] = region
            return _RegionMoved(region)
        error = classify_error(response)
        # A server's pace is per bucket (Amazon's per prefix): everyone reading it waits.
        await hold_off_if_rate_limited(self._pacer(bucket), error, RATE_LIMIT_PAUSE_SECONDS)
        return error

    def _bound(self) -> PublicS3Folder:
        if self._link is None or not isinstance(self._link.locator, PublicS3Folder):
            raise PermanentSourceError("no public bucket was recorded with this import")
        bucket = self._link.locator
        host = urlsplit(bucket.endpoint).hostname or ""
        refusal = literal_refusal(host, self._allowed, setting=ALLOWED_NETWORKS_SETTING)
        if refusal is not None:
            raise FolderUnavailable(refusal)
        return bucket

    def _prefix(self, bucket: PublicS3Folder, folder: FolderRef) -> str:
        if not folder.folder_id.startswith(bucket.base_id):
            raise PermanentSourceError(f"{folder.folder_id!r} is not a folder of this bucket")
        return folder.folder_id[len(bucket.base_id) :]

    def _pacer(self, bucket: PublicS3Folder) -> Pacer:
        host = bucket.endpoint.split("://", 1)[1]
        pacer = self._pacers.get(host)
        if pacer is None:
            pacer = self._pacers[host] = self._pacer_for(host)
        return pacer

    def _bucket_url(self, bucket: PublicS3Folder) -> str:
        """The bucket's base URL (without a trailing slash)."""
        if not bucket.is_aws:
            return f"{bucket.endpoint}/{quote(bucket.bucket, safe='')}"
        region = self._regions.get(bucket.bucket) or bucket.region
        host = f"s3.{region}.amazonaws.com" if region else "s3.amazonaws.com"
        if _VIRTUAL_HOSTABLE.match(bucket.bucket):
            return f"https://{bucket.bucket}.{host}"
        return f"https://{host}/{bucket.bucket}"

    def _object_url(self, bucket: PublicS3Folder, key: str) -> str:
        return f"{self._bucket_url(bucket)}/{object_path(key)}"


class _RegionMoved(PermanentSourceError):
    """Amazon named the bucket's region: the request is sent again there."""


async def _bounded_body(response: httpx.Response) -> bytes:
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_LISTING_BYTES:
                raise PermanentSourceError(
                    f"the listing is larger than {MAX_LISTING_BYTES:,} bytes: no S3 page is"
                )
    except (httpx.TransportError, httpx.StreamError) as exc:
        raise TransientSourceError(f"listing cut off: {exc!r}") from exc
    return bytes(body)


def build_connector(settings: PublicS3Settings, deps: ConnectorDeps) -> SourceConnector:
    allowed = settings.networks()
    return PublicS3Connector(
        guarded_client(deps, allowed, setting=ALLOWED_NETWORKS_SETTING),
        pacer_for=lambda host: deps.pacer("public_s3", host),
        page_size=deps.page_size,
        allowed_networks=allowed,
    )
