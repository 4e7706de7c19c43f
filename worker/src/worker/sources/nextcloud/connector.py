"""The connector of Nextcloud, ownCloud and oCIS public shares (see the package docstring):
the pipeline's three calls, a folder's check, its pages and a file's bytes. The WebDAV requests
under them are `dav.py`'s, the records they make `records.py`'s.
"""

import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from urllib.parse import unquote, urlsplit

import httpx

from domain.address_policy import IPNetwork
from domain.sources.nextcloud import ALLOWED_NETWORKS_SETTING, NextcloudShare
from worker.sources.addresses import RefusedHost, check_host
from worker.sources.base import (
    BoundToLink,
    FolderPage,
    FolderRef,
    FolderUnavailable,
    Pacer,
    PermanentSourceError,
    SourceFile,
    TransientSourceError,
)
from worker.sources.http import body_chunks
from worker.sources.nextcloud.dav import BoundShare, ShareDav, share_host
from worker.sources.nextcloud.multistatus import DavEntry
from worker.sources.nextcloud.records import source_file
from worker.sources.nextcloud.spool import Spools

_TOKEN = re.compile(r"^([0-9a-f]{32}):(\d+)$")


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
        self._pacer_for = pacer_for
        self._pacers: dict[str, Pacer] = {}
        self._allowed = tuple(allowed_networks)
        self._dav = ShareDav(http, allowed_networks=self._allowed)
        self._page_size = page_size
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
            raise TransientSourceError(f"{share.host} does not resolve: {exc}") from exc
        try:
            entry = await self._dav.discover(share)
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
        shape = await self._dav.shape(share)
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
                await self._dav.propfind_folder(share, shape, path, spool_children)
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
                page.files.append(source_file(share.locator, entry, child))
        return page

    @asynccontextmanager
    async def open_file(self, file: SourceFile) -> AsyncIterator[AsyncIterator[bytes]]:
        share = self._share()
        path = file.resource_key
        if not path or not path.startswith("/"):
            raise PermanentSourceError("no path in the share was recorded for this file")
        shape = await self._dav.shape(share)
        request = await self._dav.request(share, shape, "GET", path)
        response = await self._dav.send(share, request, stream=True)
        try:
            if response.status_code != 200:
                await response.aread()
                raise await self._dav.failure(share, response, what=path)
            yield body_chunks(response)
        finally:
            await response.aclose()

    # -- the share, its paths, its host's pace

    def _share(self) -> BoundShare:
        link = self._link
        if link is None or not isinstance(link.locator, NextcloudShare):
            raise PermanentSourceError("no Nextcloud share link was recorded with this import")
        return BoundShare(link.locator, link.password, self._pacer(share_host(link.locator)))

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

    def _pacer(self, host: str) -> Pacer:
        # Each server is paced on its own: one slow host does not hold the others back.
        pacer = self._pacers.get(host)
        if pacer is None:
            pacer = self._pacers[host] = self._pacer_for(host)
        return pacer
