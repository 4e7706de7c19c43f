"""The connector's WebDAV side: which of the three shapes (`shapes`) each server serves shares
in, found once per server and remembered for the process; a share's requests (its password,
the headers Nextcloud asks for, an address literal judged by the address policy), paced per
host; and what an error answer means, a rate limit holding off every job reading that host.
`connector.py` reads folders and files through it and knows none of this.
"""

from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import httpx

from domain.address_policy import IPNetwork
from domain.sources.nextcloud import ALLOWED_NETWORKS_SETTING, NextcloudShare
from worker.sources.addresses import literal_refusal
from worker.sources.base import (
    FolderUnavailable,
    Pacer,
    SourceError,
    TransientSourceError,
)
from worker.sources.http import body_chunks, hold_off_if_rate_limited, send_paced
from worker.sources.nextcloud.failures import classify_error
from worker.sources.nextcloud.multistatus import (
    PROPFIND_BODY,
    DavEntry,
    MultistatusReader,
    NotMultistatus,
)
from worker.sources.nextcloud.shapes import AJAX_HEADERS, SHAPES, DavShape, dav_path

# When the server rate-limits without saying for how long. Nextcloud's brute-force protection
# answers 429 without Retry-After, for as long as 10 failed attempts stand within 30 minutes
# (its admin manual): a minute is a pause worth taking before the next try.
RATE_LIMIT_PAUSE_SECONDS = 60.0
# The statuses that say "no share WebDAV here" while discovering a server's shape.
_NOT_THIS_SHAPE = {400, 404, 405, 501}


class BoundShare:
    """The import's share as one request sees it: its locator and password, the pace of its
    host, where its WebDAV root is in the shape being used, and which folder a listing is
    reading."""

    def __init__(self, locator: NextcloudShare, password: str | None, pacer: Pacer) -> None:
        self.locator = locator
        self.password = password
        self.pacer = pacer
        parts = urlsplit(locator.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.base_path = parts.path
        # The share's WebDAV root in the shape in use (set once the shape is known).
        self.root = ""

    @property
    def host(self) -> str:
        return share_host(self.locator)


class ShareDav:
    """Requests to public shares' WebDAV, for one connector (one worker process)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        allowed_networks: Sequence[IPNetwork],
    ) -> None:
        self._http = http
        self._allowed = tuple(allowed_networks)
        # The WebDAV shape each server answered in, by its base URL: found once per process.
        self._shapes: dict[str, DavShape] = {}

    async def shape(self, share: BoundShare) -> DavShape:
        known = self._shapes.get(share.locator.base_url)
        if known is None:
            await self.discover(share)
            known = self._shapes[share.locator.base_url]
        share.root = known.root_path(share.base_path, share.locator.token)
        return known

    async def discover(self, share: BoundShare) -> DavEntry:
        """PROPFIND `Depth: 0` on the link's folder in each shape the server may serve, in
        order; the first that answers is remembered for the server. Raises FolderUnavailable
        when none has the share; a refused password stops at once (each wrong one counts
        towards the server's brute-force protection)."""
        known = self._shapes.get(share.locator.base_url)
        shapes = (known,) if known is not None else SHAPES
        statuses: list[str] = []
        for shape in shapes:
            share.root = shape.root_path(share.base_path, share.locator.token)
            request = await self.request(
                share, shape, "PROPFIND", share.locator.path, depth="0", folder=True
            )
            response = await self.send(share, request)
            try:
                await response.aread()
            finally:
                await response.aclose()
            if response.status_code == 207:
                entries = _parse_whole(response.content)
                if not entries:
                    raise TransientSourceError(f"{share.host} sent an empty PROPFIND answer")
                self._shapes[share.locator.base_url] = shape
                return entries[0]
            if response.status_code in _NOT_THIS_SHAPE:
                statuses.append(f"{shape.name} {response.status_code}")
                continue
            error = await self.failure(share, response, what=None)
            if isinstance(error, TransientSourceError):
                raise error
            raise FolderUnavailable(str(error))
        raise FolderUnavailable(
            f"{share.host} has no public share {share.locator.token!r} "
            f"({', '.join(statuses)}): the link may have been deleted, expired or mistyped, "
            "or the server is no Nextcloud, ownCloud or oCIS"
        )

    async def propfind_folder(
        self,
        share: BoundShare,
        shape: DavShape,
        path: str,
        write: Callable[[list[DavEntry]], None],
    ) -> None:
        """PROPFIND `Depth: 1` on the folder, each entry handed to `write` as it is parsed."""
        request = await self.request(share, shape, "PROPFIND", path, depth="1", folder=True)
        response = await self.send(share, request, stream=True)
        try:
            if response.status_code != 207:
                await response.aread()
                raise await self.failure(share, response, what=path)
            reader = MultistatusReader()
            try:
                async for chunk in body_chunks(response):
                    write(list(reader.feed(chunk)))
                write(list(reader.close()))
            except NotMultistatus as exc:
                raise TransientSourceError(
                    f"{share.host} sent a folder listing that is not WebDAV XML: {exc}"
                ) from exc
        finally:
            await response.aclose()

    async def request(
        self,
        share: BoundShare,
        shape: DavShape,
        method: str,
        path: str,
        *,
        depth: str | None = None,
        folder: bool = False,
    ) -> httpx.Request:
        headers = dict(AJAX_HEADERS)
        authorization = shape.authorization(share.locator.token, share.password)
        if authorization is not None:
            headers["Authorization"] = authorization
        content = None
        if method == "PROPFIND":
            headers["Depth"] = depth or "0"
            headers["Content-Type"] = "application/xml; charset=utf-8"
            content = PROPFIND_BODY
        target = dav_path(share.root, path)
        if folder and not target.endswith("/"):
            target += "/"
        # The client's resolver checks a name's addresses at each connection; an address
        # literal never reaches a resolver, so it is judged here.
        host = urlsplit(share.origin).hostname or ""
        refusal = literal_refusal(host, self._allowed, setting=ALLOWED_NETWORKS_SETTING)
        if refusal is not None:
            raise FolderUnavailable(refusal)
        return self._http.build_request(
            method, share.origin + target, headers=headers, content=content
        )

    async def send(
        self, share: BoundShare, request: httpx.Request, *, stream: bool = False
    ) -> httpx.Response:
        return await send_paced(
            self._http,
            request,
            share.pacer,
            no_answer=f"{share.host} did not answer",
            stream=stream,
            follow_redirects=False,
        )

    async def failure(
        self, share: BoundShare, response: httpx.Response, *, what: str | None
    ) -> SourceError:
        error = classify_error(response, password_sent=share.password is not None, what=what)
        # The server limits this worker's address: every job reading it waits.
        await hold_off_if_rate_limited(share.pacer, error, RATE_LIMIT_PAUSE_SECONDS)
        return error


def share_host(share: NextcloudShare) -> str:
    """The host (and port) a share's server is paced by."""
    return urlsplit(share.base_url).netloc


def _parse_whole(body: bytes) -> list[DavEntry]:
    reader = MultistatusReader()
    try:
        return [*reader.feed(body), *reader.close()]
    except NotMultistatus as exc:
        raise TransientSourceError(
            f"the server sent a PROPFIND answer that is not WebDAV XML: {exc}"
        ) from exc
