"""Dropbox shared folders without credentials: through the zip Dropbox's web link downloads.

A shared folder's link with `dl=1` (on `DROPBOX_WEB_URL`, default https://www.dropbox.com)
answers with a zip of the whole folder, built as it is sent; that is the only key-less way to
its files (Dropbox gives no per-file links inside a folder link). So the zip is spooled to disk
and read from there:

- The root folder's first listing page downloads a fresh copy and names it (a `snapshot`).
  Every later page, subfolder and file of the import carries that name in its `LinkRef`, and a
  worker process reuses a copy it already holds under that name, or downloads one and keeps it
  under that name. So each worker process downloads the zip once per import (plus retries), a
  re-import always lists today's folder, and every job, wherever it runs, can still do its work
  alone. Copies unused for `keep_seconds` are deleted; so are those of a worker that died.
- A file is identified by its path below the link's root (`zip:` + a hash of the link and the
  path: the zip has no Dropbox ids). Listing reads each file's bytes from the copy to give its
  size and MD5, so a transfer, reading the same entry from any copy, is checked against them,
  and a re-import finds unchanged files without uploading them again.

A crash mid-download leaves only a `.part` file, which nobody reads; a job that runs again
downloads again. A crash mid-transfer changes nothing either: the transfer reads its entry again.
Memory stays bounded: the zip goes to disk in chunks, and entries are read in chunks.
"""

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
import uuid
import weakref
import zipfile
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from copy import copy as shallow_copy
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import IO
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from worker.sources.base import (
    FolderPage,
    FolderRef,
    FolderUnavailable,
    ImportLink,
    Pacer,
    PermanentSourceError,
    SourceFile,
    TransientSourceError,
)
from worker.sources.dropbox import (
    RATE_LIMIT_PAUSE_SECONDS,
    LinkRef,
    classify_error,
    folder_path,
    guess_mime_type,
)
from worker.sources.http import hold_off_if_rate_limited, media_type, send_paced

_CHUNK = 1024 * 1024
# Zips start with a local file header, or are empty (only the end-of-directory record).
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_ZIP_TYPES = {"application/zip", "application/x-zip-compressed", "application/octet-stream"}
# An error page is small; never read more of one than this.
_PAGE_LIMIT = 64 * 1024
_TOKEN = re.compile(r"^([0-9a-f]{32}):(.*)$", re.DOTALL)
_OWN_DIR = re.compile(r"^dropbox-zips-(\d+)-")
_KEEP_SECONDS = 600.0
_NOT_A_ZIP = (
    "Dropbox answered the folder's download link with a web page ({title}) instead of a zip: "
    "the link may need a password, the folder may be over what Dropbox zips for download "
    "(about 250 GB or 10,000 files), or the link may have expired"
)


@dataclass
class _Entry:
    name: str
    path: str  # below the link's root, "/sub/a.jpg"
    info: zipfile.ZipInfo | None  # None for a folder


@dataclass
class ZipCopy:
    """One copy of a folder's zip on disk, with its directory read once."""

    path: Path
    archive: zipfile.ZipFile
    # Folder path (lowercase) → its direct children by lowercase name.
    children: dict[str, dict[str, _Entry]] = field(default_factory=dict)
    files: dict[str, zipfile.ZipInfo] = field(default_factory=dict)
    users: int = 0
    last_used: float = field(default_factory=time.monotonic)

    @classmethod
    def load(cls, path: Path) -> "ZipCopy":
        """Read the zip's directory (blocking: run it in a thread)."""
        archive = zipfile.ZipFile(path)
        copy = cls(path, archive, {"": {}})
        for info in archive.infolist():
            parts = [part for part in info.filename.replace("\\", "/").split("/") if part]
            if not parts or any(part in (".", "..") for part in parts):
                continue  # the "/" entry Dropbox puts first, or a name no Dropbox file has
            parent = ""
            for depth, name in enumerate(parts):
                is_file = depth == len(parts) - 1 and not info.is_dir()
                entry_path = f"{parent}/{name}"
                siblings = copy.children.setdefault(parent.lower(), {})
                if name.lower() not in siblings:
                    siblings[name.lower()] = _Entry(name, entry_path, info if is_file else None)
                if is_file:
                    copy.files[entry_path.lower()] = info
                else:
                    copy.children.setdefault(entry_path.lower(), {})
                parent = entry_path
        return copy

    def listing(self, folder: str) -> list[_Entry] | None:
        """The folder's direct children in name order, None when the zip has no such folder."""
        children = self.children.get(folder.lower())
        if children is None:
            return None
        return [children[key] for key in sorted(children)]

    def close(self) -> None:
        self.archive.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


class ZipCache:
    """This worker process's copies of folder zips, by (link, snapshot). Shared by the jobs of
    the process on purpose: the point is that they download a folder once, not once each. A
    download happens under a per-key lock, so concurrent jobs wait for one download."""

    def __init__(
        self,
        download: Callable[[str, Path], Awaitable[None]],
        directory: str | None,
        keep_seconds: float = _KEEP_SECONDS,
    ) -> None:
        self._download = download
        self._keep_seconds = keep_seconds
        parent = Path(directory or tempfile.gettempdir())
        parent.mkdir(parents=True, exist_ok=True)
        _remove_orphans(parent)
        self.directory = Path(tempfile.mkdtemp(prefix=f"dropbox-zips-{os.getpid()}-", dir=parent))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.directory, True)
        self._copies: dict[tuple[str, str], ZipCopy] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    @asynccontextmanager
    async def open(self, url: str, snapshot: str) -> AsyncIterator[ZipCopy]:
        """The copy of `url`'s zip named `snapshot`, downloaded now if this process has none."""
        self._evict_idle()
        key = (url, snapshot)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            copy = self._copies.get(key)
            if copy is None:
                target = self.directory / f"{uuid.uuid4().hex}.zip"
                await self._download(url, target)
                try:
                    copy = await asyncio.to_thread(ZipCopy.load, target)
                except (zipfile.BadZipFile, OSError) as exc:
                    target.unlink(missing_ok=True)
                    raise TransientSourceError(f"the folder's zip is damaged: {exc}") from exc
                self._copies[key] = copy
            copy.users += 1
        try:
            yield copy
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError) as exc:
            # A bad CRC or a truncated entry: drop this copy, so the retry downloads another.
            self.discard(url, snapshot)
            raise TransientSourceError(f"the folder's zip is damaged: {exc}") from exc
        finally:
            copy.users -= 1
            copy.last_used = time.monotonic()

    def discard(self, url: str, snapshot: str) -> None:
        copy = self._copies.pop((url, snapshot), None)
        self._locks.pop((url, snapshot), None)
        if copy is not None:
            copy.close()  # readers still open keep their file handle until they finish

    def close(self) -> None:
        for key in list(self._copies):
            self.discard(*key)
        self._finalizer()

    def _evict_idle(self) -> None:
        now = time.monotonic()
        for key, copy in list(self._copies.items()):
            if copy.users == 0 and now - copy.last_used > self._keep_seconds:
                self.discard(*key)


def _remove_orphans(parent: Path) -> None:
    """Delete the zip directories of worker processes that are gone (killed before cleaning)."""
    for candidate in parent.glob("dropbox-zips-*"):
        match = _OWN_DIR.match(candidate.name)
        if match is None or not candidate.is_dir():
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(candidate, ignore_errors=True)
        except (PermissionError, OSError):
            continue


class DropboxZipConnector:
    """A `SourceConnector` for Dropbox shared folders that needs no credentials."""

    notes: str | None = (
        "Imported without Dropbox credentials, from the zip Dropbox's web link makes of the "
        "whole folder. Dropbox zips folders only up to about 250 GB and 10,000 files (its "
        "web limits, which it does not document as an API), and cannot zip a password-protected "
        "link. The zip has no Dropbox file ids or content hashes: files are known by their path "
        "in the folder (a renamed or moved file is a new one, and images imported with "
        "credentials are not recognised as the same), and checked against the zip's CRC-32 and "
        "the size and MD5 read when listing. Each worker process downloads the whole zip once "
        "per import, re-imports included; unchanged images are not uploaded again."
    )

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        web_url: str,
        zip_dir: str | None,
        page_size: int,
        pacer: Pacer,
        keep_seconds: float = _KEEP_SECONDS,
    ) -> None:
        self._http = http
        self._web_url = web_url.rstrip("/")
        self._page_size = page_size
        self._pacer = pacer
        self.zips = ZipCache(self._download, zip_dir, keep_seconds)
        self._link: ImportLink | None = None

    def for_link(self, link: ImportLink) -> "DropboxZipConnector":
        # The copy shares the process's zip cache.
        bound = shallow_copy(self)
        bound._link = link
        return bound

    async def check_folder(self, folder: FolderRef) -> None:
        link = LinkRef.decode(self._link, folder.resource_key)
        if link.password:
            raise FolderUnavailable(
                "this Dropbox link has a password, and Dropbox's zip download cannot take one: "
                "set DROPBOX_ACCESS_TOKEN (or DROPBOX_APP_KEY and DROPBOX_APP_SECRET) to import it"
            )
        # Only the start of the zip: enough to know the link works, without downloading it all.
        async with self._zip_response(link.url) as (first, _):
            if not first.startswith(_ZIP_MAGIC):
                raise FolderUnavailable(_NOT_A_ZIP.format(title="not a zip"))

    async def list_page(self, folder: FolderRef, page_token: str | None) -> FolderPage:
        link = LinkRef.decode(self._link, folder.resource_key)
        path = folder_path(folder)
        after: str | None = None
        if page_token:
            match = _TOKEN.match(page_token)
            if match is None:
                raise PermanentSourceError(f"unreadable listing checkpoint {page_token[:40]!r}")
            snapshot, after = match.group(1), match.group(2)
        else:
            # The root's first page takes a fresh copy; everything below names the one it used.
            snapshot = link.snapshot or uuid.uuid4().hex
        async with self.zips.open(link.url, snapshot) as copy:
            children = copy.listing(path)
            if children is None:
                raise PermanentSourceError(f"the folder {path} is no longer in the shared folder")
            if after is not None:
                children = [entry for entry in children if entry.name.lower() > after]
            page_entries = children[: self._page_size]
            checksums = await asyncio.to_thread(_md5s, copy, page_entries)
        more = len(children) > len(page_entries)
        page = FolderPage(
            next_page_token=f"{snapshot}:{page_entries[-1].name.lower()}" if more else None
        )
        in_snapshot = LinkRef(link.url, None, None, snapshot)
        for entry in page_entries:
            if entry.info is None:
                page.folders.append(FolderRef(entry.path, in_snapshot.encode()))
                continue
            page.files.append(
                SourceFile(
                    file_id=zip_file_id(link.url, entry.path),
                    name=entry.name,
                    mime_type=guess_mime_type(entry.name),
                    size=entry.info.file_size,
                    md5_checksum=checksums.get(entry.path),
                    resource_key=in_snapshot.child(entry.path).encode(),
                )
            )
        return page

    @asynccontextmanager
    async def open_file(self, file: SourceFile) -> AsyncIterator[AsyncIterator[bytes]]:
        link = LinkRef.decode(self._link, file.resource_key)
        if not link.path or not link.snapshot:
            raise PermanentSourceError("no path in the folder's zip was recorded for this file")
        async with self.zips.open(link.url, link.snapshot) as copy:
            info = copy.files.get(link.path.lower())
            if info is None:
                raise PermanentSourceError(f"{link.path} is no longer in the shared folder")
            reader = await asyncio.to_thread(copy.archive.open, info)
            try:
                yield _entry_chunks(reader)
            finally:
                await asyncio.to_thread(reader.close)

    def zip_url(self, link_url: str) -> str:
        """The link on the configured web host, with `dl=1` (other parameters kept: `rlkey`
        is the access grant of an `scl` link)."""
        parts = urlsplit(link_url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "dl"]
        return f"{self._web_url}{parts.path}?{urlencode([*query, ('dl', '1')])}"

    @asynccontextmanager
    async def _zip_response(
        self, link_url: str
    ) -> AsyncIterator[tuple[bytes, AsyncIterator[bytes]]]:
        """The first chunk of the zip, and the rest of its chunks as they arrive; every other
        answer is closed and turned into an error."""
        response = await send_paced(
            self._http,
            self._http.build_request("GET", self.zip_url(link_url)),
            self._pacer,
            no_answer="Dropbox did not answer",
            stream=True,
            follow_redirects=True,
        )
        try:
            await self._check_zip_response(response)
            chunks = response.aiter_bytes(_CHUNK)
            try:
                first = await anext(chunks, b"")
            except (httpx.TransportError, httpx.StreamError) as exc:
                raise TransientSourceError(f"the folder's zip was cut off: {exc!r}") from exc
            yield first, chunks
        finally:
            await response.aclose()

    async def _check_zip_response(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 404:
            raise FolderUnavailable(
                "Dropbox does not know this shared link (HTTP 404): it may have been deleted, "
                "expired or mistyped; an scl link needs its rlkey"
            )
        if status != 200:
            await response.aread()
            error = classify_error(response)
            if isinstance(error, TransientSourceError):
                await hold_off_if_rate_limited(self._pacer, error, RATE_LIMIT_PAUSE_SECONDS)
                raise error
            raise FolderUnavailable(f"Dropbox refused the folder's download link: {error}")
        content_type = media_type(response)
        if content_type not in _ZIP_TYPES:
            title = await _page_title(response)
            raise FolderUnavailable(_NOT_A_ZIP.format(title=repr(title) if title else content_type))

    async def _download(self, link_url: str, target: Path) -> None:
        """Spool the folder's zip to `target` (via `target.part`, renamed once complete)."""
        partial = target.with_suffix(".part")
        handle = await asyncio.to_thread(partial.open, "wb")
        try:
            async with self._zip_response(link_url) as (first, rest):
                if not first.startswith(_ZIP_MAGIC):
                    raise FolderUnavailable(_NOT_A_ZIP.format(title="not a zip"))
                await asyncio.to_thread(handle.write, first)
                try:
                    async for chunk in rest:
                        await asyncio.to_thread(handle.write, chunk)
                except (httpx.TransportError, httpx.StreamError) as exc:
                    raise TransientSourceError(f"the folder's zip was cut off: {exc!r}") from exc
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(partial.rename, target)
        except BaseException:
            await asyncio.to_thread(handle.close)
            partial.unlink(missing_ok=True)
            raise


def zip_file_id(link_url: str, path: str) -> str:
    """A file's stable id on the key-less path: its link's stable part and its path (ignoring
    case, as Dropbox does), hashed."""
    parts = urlsplit(link_url)
    identity = f"{parts.path.rstrip('/')}\x00{path.lower()}"
    return "zip:" + hashlib.sha256(identity.encode()).hexdigest()[:40]


def _md5s(copy: ZipCopy, entries: list[_Entry]) -> dict[str, str]:
    """MD5 of each file entry, read from the copy (blocking: run it in a thread). Reading to
    the end also checks the entry's CRC-32."""
    found: dict[str, str] = {}
    for entry in entries:
        if entry.info is None:
            continue
        digest = hashlib.md5(usedforsecurity=False)
        with copy.archive.open(entry.info) as reader:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
        found[entry.path] = digest.hexdigest()
    return found


async def _entry_chunks(reader: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(reader.read, _CHUNK):
        yield chunk


async def _page_title(response: httpx.Response) -> str:
    body = b""
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= _PAGE_LIMIT:
                break
    except (httpx.TransportError, httpx.StreamError):
        pass
    parser = _TitleParser()
    parser.feed(body[:_PAGE_LIMIT].decode(response.encoding or "utf-8", errors="replace"))
    return " ".join(parser.title.split())


class _TitleParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._inside = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.title += data
