"""The contract every source connector (Google Drive, Dropbox, ...) fulfils.

A connector lists a folder one page at a time as plain records, and opens a file as a byte
stream. It never touches the database or the object store, and it says how a failure should be
handled by raising one of the errors below. The pipeline only ever talks to this interface.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from copy import copy
from dataclasses import dataclass
from typing import Protocol, Self

import httpx
from aiohttp.abc import AbstractResolver

# The records connectors list (defined with the registry's locators, which the API reads too).
from domain.sources.records import FolderPage, FolderRef, ImportLink, SourceFile

__all__ = [
    "BoundToLink",
    "ConnectorDeps",
    "FolderPage",
    "FolderRef",
    "FolderUnavailable",
    "ImportLink",
    "Pacer",
    "PermanentSourceError",
    "SourceConnector",
    "SourceError",
    "SourceFile",
    "SourceQuotaExceeded",
    "TransientSourceError",
]


class SourceError(Exception):
    """A failure talking to a source, with a message a person understands."""


class TransientSourceError(SourceError):
    """Worth retrying later: rate limits, 5xx, timeouts, cut connections."""

    def __init__(
        self, message: str, retry_after: float | None = None, *, rate_limited: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.rate_limited = rate_limited


class SourceQuotaExceeded(SourceError):
    """The source refuses this file for now, not the others (Drive's downloadQuotaExceeded: a
    file downloaded too often, for up to 24 h): the file waits and is tried again later,
    without spending its attempts or holding up the rest."""


class PermanentSourceError(SourceError):
    """Retrying cannot help (not found, not shared, not downloadable): record it and move on."""


class FolderUnavailable(PermanentSourceError):
    """The folder itself cannot be listed: the whole import fails with this message."""


class Pacer(Protocol):
    """The shared pace of calls to a source; a connector waits its turn before every request."""

    async def wait_turn(self) -> None: ...

    async def hold_off(self, seconds: float) -> None: ...


class BoundToLink:
    """For connectors that reach folders and files through the import's link (a shared link and
    its password): `for_link` is a copy of the connector, sharing its clients and caches, that
    reads that link as `_link`."""

    _link: ImportLink | None = None

    def for_link(self, link: ImportLink) -> Self:
        bound = copy(self)
        bound._link = link
        return bound


class SourceConnector(Protocol):
    # Known limits of this way of reading the source, shown on every import that uses it.
    notes: str | None

    def for_link(self, link: ImportLink) -> "SourceConnector":
        """This connector, reading the folder of one import's link (a connector that reaches
        every folder and file by its ids alone may return itself)."""

    async def check_folder(self, folder: FolderRef) -> str | None:
        """Raise FolderUnavailable unless the folder exists and can be listed. Return the
        folder's name as the source gives it (what people call the folder, shown beside the
        import's link), or None when the source gives none."""

    async def list_page(self, folder: FolderRef, page_token: str | None) -> FolderPage:
        """One page of the folder's direct children; `next_page_token` is None on the last."""

    def open_file(self, file: SourceFile) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """The file's bytes, streamed in chunks."""


@dataclass(frozen=True)
class ConnectorDeps:
    """What every connector is built with, shared by the whole worker process: a source's
    registry entry names a factory `(settings, deps) -> SourceConnector`."""

    http: httpx.AsyncClient
    # The shared pace of one source: `pacer(bucket_name, credential)`.
    pacer: Callable[[str, str | None], Pacer]
    page_size: int
    # A client built as `http` is, resolving names with the resolver the callable makes and
    # following no redirect: for a source whose links name any host, whose addresses the
    # resolver checks (`worker.sources.addresses.guarded_client`). Closed with `http`.
    client_with_resolver: Callable[[Callable[[], AbstractResolver]], httpx.AsyncClient]
