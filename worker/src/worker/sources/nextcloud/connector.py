"""The connector of Nextcloud, ownCloud and oCIS public shares (see the package docstring)."""

import hashlib
import logging
import mimetypes
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from urllib.parse import unquote, urlsplit

import httpx

from domain.address_policy import IPNetwork
from domain.sources.nextcloud import ALLOWED_NETWORKS_SETTING, NextcloudShare
from worker.http_client import retry_after_seconds
from worker.sources.addresses import RefusedHost, check_host, literal_refusal
from worker.sources.base import (
    BoundToLink,
    FolderPage,
    FolderRef,
    FolderUnavailable,
    Pacer,
    PermanentSourceError,
    SourceError,
    SourceFile,
    TransientSourceError,
)
from worker.sources.http import body_chunks, hold_off_if_rate_limited, send_paced
from worker.sources.media_types import image_type_by_extension
from worker.sources.nextcloud.multistatus import (
    PROPFIND_BODY,
    DavEntry,
    MultistatusReader,
    NotMultistatus,
    sabre_message,
)
from worker.sources.nextcloud.shapes import AJAX_HEADERS, SHAPES, DavShape, dav_path
from worker.sources.nextcloud.spool import Spools

log = logging.getLogger("worker.sources.nextcloud")

# When the server rate-limits without saying for how long. Nextcloud's brute-force protection
# answers 429 without Retry-After, for as long as 10 failed attempts stand within 30 minutes
# (its admin manual): a minute is a pause worth taking before the next try.
RATE_LIMIT_PAUSE_SECONDS = 60.0
_TOKEN = re.compile(r"^([0-9a-f]{32}):(\d+)$")
# The statuses that say "no share WebDAV here" while discovering a server's shape.
_NOT_THIS_SHAPE = {400, 404, 405, 501}


class BoundShare:
    """The import's share as one request sees it: its locator and password, where its WebDAV
    root is in the shape being used, and which folder a listing is reading."""

    def __init__(self, locator: NextcloudShare, password: str | None) -> None:
        self.locator = locator
        self.password = password
        parts = urlsplit(locator.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.base_path = parts.path
        # The share's WebDAV root in the shape in use (set once the shape is known).
        self.root = ""


class NextcloudConnector(BoundToLink):
    """A `SourceConnector` for public shares of Nextcloud, ownCloud and oCIS servers."""

    notes: str | None = (
        "Imported through the server's public WebDAV share. Files the server holds checksums "
        "for (MD5, SHA-1 or SHA-256, as desktop clients upload them) are checked against them; "
        "the others are checked against their size only. A re-import or sync finds a file "
        "unchanged by its checksum, or else by its size and the server's ETag of it."
    )

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        pacer_for: Callable[[str], Pacer],
        allowed_networks: Sequence[IPNetwork],
        page_size: int,
        spool_dir: str | None,
    ) -> None:
        self._http = http
        self._pacer_for = pacer_for
        self._pacers: dict[str, Pacer] = {}
        self._allowed = tuple(allowed_networks)
        self._page_size = page_size
        # The WebDAV shape each server answered in, by its base URL: found once per process.
        self._shapes: dict[str, DavShape] = {}
        self.spools = Spools(spool_dir)

    async def check_folder(self, folder: FolderRef) -> str | None:
        share = self._share()
        parts = urlsplit(share.origin)
        try:
            await check_host(
                parts.hostname or "",
                parts.port or (443 if parts.scheme == "https" else 80),
                self._allowed,
                setting=ALLOWED_NETWORKS_SETTING,
            )
        except RefusedHost as exc:
            raise FolderUnavailable(exc.reason) from exc
        except OSError as exc:
            raise TransientSourceError(f"{_host(share)} does not resolve: {exc}") from exc
        try:
            entry = await self._discover(share)
        except FolderUnavailable:
            raise
        except PermanentSourceError as exc:
            raise FolderUnavailable(f"the shared folder cannot be read: {exc}") from exc
        if not entry.is_folder:
            raise FolderUnavailable(
                "the link shares a single file, not a folder: share the folder and paste its link"
            )
        return entry.display_name

    async def list_page(self, folder: FolderRef, page_token: str | None) -> FolderPage:
        share = self._share()
        path = self._folder_path(share, folder)
        if page_token:
            match = _TOKEN.match(page_token)
            if match is None:
                raise PermanentSourceError(f"unreadable listing checkpoint {page_token[:40]!r}")
            snapshot, start = match.group(1), int(match.group(2))
        else:
            snapshot, start = uuid.uuid4().hex, 0
        shape = await self._shape(share)
        spool = self.spools.get(snapshot)
        if spool is None:
            # The first page, or a later one in a process that does not hold the listing.
            writer = self.spools.writer(snapshot)

            def spool_children(entries: list[DavEntry]) -> None:
                # The folder itself (its first entry) and anything outside it is no page's.
                writer.write(
                    entry
                    for entry in entries
                    if self._relative_path(share, entry.path, path) is not None
                )

            try:
                await self._propfind_folder(share, shape, path, spool_children)
            except BaseException:
                writer.abandon()
                raise
            spool = writer.finish()
            self.spools.keep(snapshot, spool)
        entries = spool.read(start, self._page_size)
        end = start + len(entries)
        more = end < len(spool)
        if not more:
            self.spools.drop(snapshot)
        page = FolderPage(next_page_token=f"{snapshot}:{end}" if more else None)
        for entry in entries:
            child = self._relative_path(share, entry.path, path)
            if child is None:
                continue
            if entry.is_folder:
                page.folders.append(FolderRef(child, name=child.rsplit("/", 1)[-1]))
            else:
                page.files.append(_to_source_file(share, entry, child))
        return page

    @asynccontextmanager
    async def open_file(self, file: SourceFile) -> AsyncIterator[AsyncIterator[bytes]]:
        share = self._share()
        path = file.resource_key
        if not path or not path.startswith("/"):
            raise PermanentSourceError("no path in the share was recorded for this file")
        shape = await self._shape(share)
        request = await self._request(share, shape, "GET", path)
        response = await send_paced(
            self._http,
            request,
            self._pacer(share),
            no_answer=f"{_host(share)} did not answer",
            stream=True,
            follow_redirects=False,
        )
        try:
            if response.status_code != 200:
                await response.aread()
                raise await self._failure(share, response, what=path)
            yield body_chunks(response)
        finally:
            await response.aclose()

    # -- the share, its server's shape, its requests

    def _share(self) -> BoundShare:
        link = self._link
        if link is None or not isinstance(link.locator, NextcloudShare):
            raise PermanentSourceError("no Nextcloud share link was recorded with this import")
        return BoundShare(link.locator, link.password)

    def _folder_path(self, share: BoundShare, folder: FolderRef) -> str:
        # The root is the link's folder; a subfolder's id is its path in the share (`/a/b`).
        return folder.folder_id if folder.folder_id.startswith("/") else share.locator.path

    def _relative_path(self, share: BoundShare, href_path: str, listed: str) -> str | None:
        """An entry's path in the share (`/a/b.jpg`); None for the listed folder itself or an
        href outside the share."""
        root = unquote(share.root).rstrip("/")
        if not href_path.startswith(root + "/"):
            return None
        relative = href_path[len(root) :].rstrip("/")
        if not relative or relative == listed.rstrip("/"):
            return None
        return relative

    async def _shape(self, share: BoundShare) -> DavShape:
        known = self._shapes.get(share.locator.base_url)
        if known is None:
            await self._discover(share)
            known = self._shapes[share.locator.base_url]
        share.root = known.root_path(share.base_path, share.locator.token)
        return known

    async def _discover(self, share: BoundShare) -> DavEntry:
        """PROPFIND `Depth: 0` on the link's folder in each shape the server may serve, in
        order; the first that answers is remembered for the server. Raises FolderUnavailable
        when none has the share; a refused password stops at once (each wrong one counts
        towards the server's brute-force protection)."""
        known = self._shapes.get(share.locator.base_url)
        shapes = (known,) if known is not None else SHAPES
        statuses: list[str] = []
        for shape in shapes:
            share.root = shape.root_path(share.base_path, share.locator.token)
            request = await self._request(
                share, shape, "PROPFIND", share.locator.path, depth="0", folder=True
            )
            response = await self._send(share, request)
            try:
                await response.aread()
            finally:
                await response.aclose()
            if response.status_code == 207:
                entries = _parse_whole(response.content)
                if not entries:
                    raise TransientSourceError(f"{_host(share)} sent an empty PROPFIND answer")
                self._shapes[share.locator.base_url] = shape
                return entries[0]
            if response.status_code in _NOT_THIS_SHAPE:
                statuses.append(f"{shape.name} {response.status_code}")
                continue
            error = await self._failure(share, response, what=None)
            if isinstance(error, TransientSourceError):
                raise error
            raise FolderUnavailable(str(error))
        raise FolderUnavailable(
            f"{_host(share)} has no public share {share.locator.token!r} "
            f"({', '.join(statuses)}): the link may have been deleted, expired or mistyped, "
            "or the server is no Nextcloud, ownCloud or oCIS"
        )

    async def _propfind_folder(
        self,
        share: BoundShare,
        shape: DavShape,
        path: str,
        write: Callable[[list[DavEntry]], None],
    ) -> None:
        """PROPFIND `Depth: 1` on the folder, each entry handed to `write` as it is parsed."""
        request = await self._request(share, shape, "PROPFIND", path, depth="1", folder=True)
        response = await self._send(share, request, stream=True)
        try:
            if response.status_code != 207:
                await response.aread()
                raise await self._failure(share, response, what=path)
            reader = MultistatusReader()
            try:
                async for chunk in body_chunks(response):
                    write(list(reader.feed(chunk)))
                write(list(reader.close()))
            except NotMultistatus as exc:
                raise TransientSourceError(
                    f"{_host(share)} sent a folder listing that is not WebDAV XML: {exc}"
                ) from exc
        finally:
            await response.aclose()

    async def _request(
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

    async def _send(
        self, share: BoundShare, request: httpx.Request, *, stream: bool = False
    ) -> httpx.Response:
        return await send_paced(
            self._http,
            request,
            self._pacer(share),
            no_answer=f"{_host(share)} did not answer",
            stream=stream,
            follow_redirects=False,
        )

    def _pacer(self, share: BoundShare) -> Pacer:
        # Each server is paced on its own: one slow host does not hold the others back.
        host = _host(share)
        pacer = self._pacers.get(host)
        if pacer is None:
            pacer = self._pacers[host] = self._pacer_for(host)
        return pacer

    async def _failure(
        self, share: BoundShare, response: httpx.Response, *, what: str | None
    ) -> SourceError:
        error = classify_error(response, password_sent=share.password is not None, what=what)
        # The server limits this worker's address: every job reading it waits.
        await hold_off_if_rate_limited(self._pacer(share), error, RATE_LIMIT_PAUSE_SECONDS)
        return error


def classify_error(
    response: httpx.Response, *, password_sent: bool, what: str | None
) -> TransientSourceError | PermanentSourceError:
    """What a WebDAV error answer means: 429 and 503 say when to retry (Nextcloud's
    brute-force protection answers 429 once too many passwords failed from this address), other
    5xx are retried, the rest is final."""
    status = response.status_code
    detail = sabre_message(response.content) or response.reason_phrase or ""
    subject = f"{what} " if what else ""
    if status == 429:
        retry_after = retry_after_seconds(response)
        wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        brute_force = (
            " (its brute-force protection holds off this worker's address after failed share "
            "passwords)"
            if password_sent
            else ""
        )
        return TransientSourceError(
            f"the server is rate limiting{brute_force}: {detail}{wait}".replace(": ;", ";"),
            retry_after=retry_after,
            rate_limited=True,
        )
    if status >= 500:
        return TransientSourceError(
            f"the server answered HTTP {status}: {detail}".rstrip(": "),
            retry_after=retry_after_seconds(response),
            rate_limited=status == 503 and retry_after_seconds(response) is not None,
        )
    if status == 401:
        if password_sent:
            return PermanentSourceError(
                "the server refuses the share's password: send the password the share's owner "
                "set (each wrong one counts towards the server's brute-force protection)"
            )
        return PermanentSourceError(
            'the share is protected by a password: send it beside the link as "password"'
        )
    if 300 <= status < 400:
        location = response.headers.get("location", "no Location")
        return PermanentSourceError(
            f"the server redirects {subject}to {location}: redirects are not followed; paste "
            "the share link as the server shows it (https)"
        )
    if status == 403:
        return PermanentSourceError(
            f"the server forbids reading {subject}(HTTP 403: {detail}): the share may not "
            "allow downloads"
        )
    if status == 404:
        return PermanentSourceError(f"{subject or 'it '}is no longer in the share (HTTP 404)")
    return PermanentSourceError(f"the server refused the request (HTTP {status}: {detail})")


def _parse_whole(body: bytes) -> list[DavEntry]:
    reader = MultistatusReader()
    try:
        return [*reader.feed(body), *reader.close()]
    except NotMultistatus as exc:
        raise TransientSourceError(
            f"the server sent a PROPFIND answer that is not WebDAV XML: {exc}"
        ) from exc


def _host(share: BoundShare) -> str:
    return urlsplit(share.locator.base_url).netloc


def _to_source_file(share: BoundShare, entry: DavEntry, path: str) -> SourceFile:
    name = path.rsplit("/", 1)[-1]
    return SourceFile(
        file_id=share_file_id(share.locator, entry, path),
        name=name,
        mime_type=_media_type(name, entry.content_type),
        size=entry.size,
        checksums=entry.checksums,
        resource_key=path,
        version=entry.etag,
    )


def share_file_id(share: NextcloudShare, entry: DavEntry, path: str) -> str:
    """A file's stable id: the server's own file id (which a rename or a move keeps) on that
    server, or, when the server gives none, the file's path in the share; hashed, as ids from
    two servers must never meet."""
    server = urlsplit(share.base_url).netloc.lower() + urlsplit(share.base_url).path
    identity = (
        f"id\x00{server}\x00{entry.file_id}"
        if entry.file_id
        else (f"path\x00{share.folder_id}\x00{path}")
    )
    return "nc:" + hashlib.sha256(identity.encode()).hexdigest()[:40]


def _media_type(name: str, listed: str | None) -> str:
    """The server's type (Nextcloud's comes from the name too), unless it is the generic one:
    then the name's extension decides. The stored type is checked against the bytes anyway."""
    listed_type = (listed or "").split(";")[0].strip().lower()
    if listed_type and listed_type != "application/octet-stream":
        return listed_type
    return (
        image_type_by_extension(name) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    )
