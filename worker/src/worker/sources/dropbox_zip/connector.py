"""The key-less Dropbox connector: lists and reads a shared folder from a copy of its zip (see
the package docstring for how copies are named and shared)."""

import asyncio
import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import IO
from urllib.parse import urlsplit

import httpx

from domain.sources.records import MD5
from worker.sources.base import (
    BoundToLink,
    FolderPage,
    FolderRef,
    FolderUnavailable,
    Pacer,
    PermanentSourceError,
    SourceFile,
)
from worker.sources.dropbox_shared import LinkRef, folder_path, guess_mime_type
from worker.sources.dropbox_zip.download import CHUNK, NOT_A_ZIP, ZIP_MAGIC, ZipDownloads
from worker.sources.dropbox_zip.snapshots import KEEP_SECONDS, ZipCache, ZipCopy, ZipEntry

_TOKEN = re.compile(r"^([0-9a-f]{32}):(.*)$", re.DOTALL)


class DropboxZipConnector(BoundToLink):
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
        keep_seconds: float = KEEP_SECONDS,
    ) -> None:
        self._downloads = ZipDownloads(http, web_url=web_url, pacer=pacer)
        self._page_size = page_size
        self.zips = ZipCache(self._downloads.spool, zip_dir, keep_seconds)

    def zip_url(self, link_url: str) -> str:
        return self._downloads.zip_url(link_url)

    async def check_folder(self, folder: FolderRef) -> str | None:
        link = LinkRef.decode(self._link, folder.resource_key)
        if link.password:
            raise FolderUnavailable(
                "this Dropbox link has a password, and Dropbox's zip download cannot take one: "
                "set DROPBOX_ACCESS_TOKEN (or DROPBOX_APP_KEY and DROPBOX_APP_SECRET) to import it"
            )
        # Only the start of the zip: enough to know the link works, without downloading it all.
        async with self._downloads.open(link.url) as (first, _, name):
            if not first.startswith(ZIP_MAGIC):
                raise FolderUnavailable(NOT_A_ZIP.format(title="not a zip"))
        return name

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
                page.folders.append(FolderRef(entry.path, in_snapshot.encode(), entry.name))
                continue
            page.files.append(
                SourceFile(
                    file_id=zip_file_id(link.url, entry.path),
                    name=entry.name,
                    mime_type=guess_mime_type(entry.name),
                    size=entry.info.file_size,
                    checksums={MD5: checksums[entry.path]},
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


def zip_file_id(link_url: str, path: str) -> str:
    """A file's stable id on the key-less path: its link's stable part and its path (ignoring
    case, as Dropbox does), hashed."""
    parts = urlsplit(link_url)
    identity = f"{parts.path.rstrip('/')}\x00{path.lower()}"
    return "zip:" + hashlib.sha256(identity.encode()).hexdigest()[:40]


def _md5s(copy: ZipCopy, entries: list[ZipEntry]) -> dict[str, str]:
    """MD5 of each file entry, read from the copy (blocking: run it in a thread). Reading to
    the end also checks the entry's CRC-32."""
    found: dict[str, str] = {}
    for entry in entries:
        if entry.info is None:
            continue
        digest = hashlib.md5(usedforsecurity=False)
        with copy.archive.open(entry.info) as reader:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
        found[entry.path] = digest.hexdigest()
    return found


async def _entry_chunks(reader: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(reader.read, CHUNK):
        yield chunk
