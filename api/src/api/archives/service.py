"""Images as one ZIP download: the response any archive route returns, with one call.

`Archives.respond(images, name, headers)` answers a GET for the archive of `images` (in their
order): 200 with the whole archive, or 206 with the byte range a `Range` header asks for, the
size known in advance (`Content-Length`), an ETag that changes when any entry would. Before the
first byte it makes sure of what the bytes depend on, so that a failure is an error answer, never
a corrupt archive: every image's CRC-32 is known (the worker records it when it stores an
image; one stored before that is read once here and its CRC-32 recorded), and every object the
range covers is in the store at its recorded size (a HEAD each, several at once). An object that
vanishes after that check cuts the connection short of `Content-Length`, which every client
reports as an incomplete download.

The bytes stream from S3 a chunk at a time: while one object is sent, the next few are already
requested (ARCHIVE_READ_AHEAD_OBJECTS), each holding at most a few chunks, so memory stays
bounded whatever the archive's size and small objects do not pay a round trip each.
"""

import asyncio
import hashlib
import logging
import os
import re
import zlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from litestar import Response
from litestar.datastructures import Headers
from litestar.response import Stream
from psycopg_pool import AsyncConnectionPool

from api.archives import repository
from api.archives.names import ArchivePaths, safe_name
from api.archives.repository import ArchiveImage
from api.archives.zip_layout import ObjectSlice, ZipEntry, ZipLayout
from api.errors import ApiError, Unavailable
from api.storage import ObjectMissing, ObjectReader, StoreUnavailable
from domain.db import Connection
from domain.s3_signing import content_disposition
from domain.sources.records import crc32_hex

log = logging.getLogger("api.archives")


class ArchiveIncomplete(ApiError, status_code=409, error="archive_incomplete"):
    """An image's bytes are not in the store (deleted behind the catalogue's back)."""


class RangeNotSatisfiable(ApiError, status_code=416, error="range_not_satisfiable"):
    """The Range asked for starts past the archive's end."""


# Bumped whenever the layout of an archive of the same entries changes, so that an old ETag
# never matches a new layout.
LAYOUT_VERSION = "1"
# How many missing objects an error names.
_NAMED_AT_MOST = 5
# From this many objects on, the check before the first byte lists keys (1,000 a request)
# rather than sending a HEAD each.
_LIST_FROM_OBJECTS = 64
# Chunks an object read ahead may hold before its reader waits for the sender.
_CHUNKS_AHEAD = 4
# Headers (and the central directory) go out in pieces of about this many bytes.
_HEADER_BYTES_AT_ONCE = 64 * 1024

T = TypeVar("T")


@dataclass(frozen=True)
class _Source:
    """Where an entry's bytes are."""

    image_id: str
    bucket: str
    key: str


class Archives:
    """Everything an archive response needs, made once by the app's lifespan."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Connection],
        reader: ObjectReader,
        *,
        concurrency: int,
        read_ahead: int,
    ) -> None:
        self._pool = pool
        self._reader = reader
        self._concurrency = concurrency
        self._read_ahead = read_ahead

    async def respond(
        self, images: Sequence[ArchiveImage], name: str, headers: Headers
    ) -> Response[Any]:
        """The answer to a GET (with its `Range` and `If-Range`) for the archive of `images`,
        saved as `name`.zip."""
        images, just_read = await self._with_crc32(images)
        layout = ZipLayout(archive_entries(images))
        etag = archive_etag(layout)
        common = {
            "Accept-Ranges": "bytes",
            "ETag": etag,
            "Content-Disposition": content_disposition(f"{safe_name(name)}.zip"),
            # The bytes are the archive: no proxy may transform or compress them again.
            "Cache-Control": "private, no-transform",
        }
        wanted = requested_range(headers, layout.size, etag)
        if wanted is None:
            first, last, status = 0, layout.size - 1, 200
        else:
            first, last = wanted
            status = 206
            common["Content-Range"] = f"bytes {first}-{last}/{layout.size}"
        await self._check_stored(
            [
                piece
                for piece in _object_slices(layout, first, last)
                if piece.entry.source.image_id not in just_read  # type: ignore[attr-defined]
            ]
        )
        common["Content-Length"] = str(last - first + 1)
        return Stream(
            self._stream(layout, first, last),
            status_code=status,
            headers=common,
            media_type="application/zip",
        )

    async def _with_crc32(
        self, images: Sequence[ArchiveImage]
    ) -> tuple[list[ArchiveImage], set[str]]:
        """`images`, each with its CRC-32, and the ids of those read for it: images stored
        before the worker recorded it are read once (which also proves they are there, at their
        size) and their CRC-32 recorded for next time."""
        missing = [image for image in images if image.crc32 is None]
        if not missing:
            return list(images), set()

        async def crc32_of(image: ArchiveImage) -> str:
            bucket, key = _location(image.storage_path)
            crc, size = 0, 0
            async with self._reader.open(bucket, key) as chunks:
                async for chunk in chunks:
                    crc = zlib.crc32(chunk, crc)
                    size += len(chunk)
            if size != image.size:
                raise ObjectMissing(f"{key} holds {size} bytes, not the {image.size} recorded")
            return crc32_hex(crc)

        computed = await self._each(missing, crc32_of)
        async with self._pool.connection() as conn, conn.transaction():
            await repository.record_crc32(
                conn, {image.id: crc for image, crc in zip(missing, computed, strict=True)}
            )
        log.info("archive.crc32_backfilled images=%d", len(missing))
        by_id = {image.id: crc for image, crc in zip(missing, computed, strict=True)}
        with_crc32 = [image._replace(crc32=by_id.get(image.id, image.crc32)) for image in images]
        return with_crc32, set(by_id)

    async def _check_stored(self, slices: list[ObjectSlice]) -> None:
        """Every object the range reads is in the store at its recorded size: ArchiveIncomplete
        names those that are not, before the first byte is sent. Many objects are checked by
        listing their keys (1,000 a request) as long as the listing finds ours, not others';
        the rest by a HEAD each."""
        sizes = {_key_of(piece): piece.entry.size for piece in slices}
        listed: dict[tuple[str, str], int] = {}
        if len(sizes) >= _LIST_FROM_OBJECTS:
            listed = await self._listed(sizes)
        gone = [piece for piece in slices if listed.get(_key_of(piece), -1) != piece.entry.size]
        unlisted = [piece for piece in gone if _key_of(piece) not in listed]
        wrong = [piece for piece in gone if _key_of(piece) in listed]

        async def check(piece: ObjectSlice) -> None:
            source: _Source = piece.entry.source  # type: ignore[assignment]
            size = await self._reader.size(source.bucket, source.key)
            if size != piece.entry.size:
                raise ObjectMissing(f"{source.key} holds {size} bytes, not {piece.entry.size}")

        # Listed at another size: checked again one by one, and named if still wrong.
        await self._each(unlisted + wrong, check)

    async def _listed(self, sizes: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
        """The sizes the store lists for the keys of `sizes`, bucket by bucket, from the first
        key on, while the listing holds at least one of ours in two; keys it has not reached
        are left out, and so are keys it passed that the store does not hold (then their HEAD
        says so, with their name)."""
        found: dict[tuple[str, str], int] = {}
        by_bucket: dict[str, list[str]] = {}
        for bucket, key in sizes:
            by_bucket.setdefault(bucket, []).append(key)
        for bucket, keys in by_bucket.items():
            keys.sort()
            wanted = set(keys)
            # Character by character, as S3 prefixes are.
            prefix = os.path.commonprefix(keys)  # noqa: RUF071
            # Before the first key in S3's order: the key less its last character.
            start_after = keys[0][:-1]
            budget = 2 * len(keys) + 1000
            token: str | None = None
            listed = 0
            while True:
                try:
                    page, token = await self._reader.list_sizes(bucket, prefix, start_after, token)
                except StoreUnavailable:
                    return found  # a HEAD each will tell
                listed += len(page)
                found.update(((bucket, key), size) for key, size in page if key in wanted)
                if token is None or listed > budget or (page and page[-1][0] >= keys[-1]):
                    break
        return found

    async def _each(self, items: Sequence[T], work: Callable[[T], Awaitable[Any]]) -> list[Any]:
        """`work` on every item, by `self._concurrency` workers (not a task per item: 10,000
        tasks at once would cost more memory than the archive's stream); the results in order.
        Missing objects are gathered into one ArchiveIncomplete; an unreachable store is 503."""
        results: list[Any] = [None] * len(items)
        gone: list[str] = []
        queue = iter(enumerate(items))

        async def worker() -> None:
            for index, item in queue:
                try:
                    results[index] = await work(item)
                except ObjectMissing:
                    gone.append(_image_id(item))

        try:
            await asyncio.gather(*(worker() for _ in range(min(self._concurrency, len(items)))))
        except StoreUnavailable as exc:
            log.warning("archive.store_unavailable error=%s", exc)
            raise Unavailable(
                "the object store cannot be reached just now; retry shortly",
                headers={"Retry-After": "5"},
            ) from exc
        if gone:
            named = ", ".join(sorted(gone)[:_NAMED_AT_MOST])
            more = f" and {len(gone) - _NAMED_AT_MOST} more" if len(gone) > _NAMED_AT_MOST else ""
            raise ArchiveIncomplete(
                f"{len(gone)} image(s) of this archive are missing from the store (deleted "
                f"behind the catalogue's back?): {named}{more}; leave them out (POST /archives "
                "with the other ids) or import them again"
            )
        return results

    async def _stream(self, layout: ZipLayout, first: int, last: int) -> AsyncIterator[bytes]:
        """The archive's bytes `first`..`last`, objects requested `read_ahead` at a time,
        headers sent together rather than a hundred bytes at a time."""
        ahead: deque[tuple[asyncio.Queue[bytes | None], asyncio.Task[None]]] = deque()
        pieces = iter(layout.pieces(first, last))
        waiting: deque[bytes | ObjectSlice] = deque()
        headers = bytearray()
        sent = 0
        try:
            while True:
                # Keep `read_ahead` objects requested beyond the piece being sent.
                while len(ahead) < self._read_ahead and len(waiting) < 3 * self._read_ahead:
                    piece = next(pieces, None)
                    if piece is None:
                        break
                    waiting.append(piece)
                    if isinstance(piece, ObjectSlice):
                        queue: asyncio.Queue[bytes | None] = asyncio.Queue(_CHUNKS_AHEAD)
                        ahead.append((queue, asyncio.create_task(self._read_into(piece, queue))))
                if not waiting:
                    break
                piece = waiting.popleft()
                if isinstance(piece, bytes):
                    headers += piece
                    if len(headers) >= _HEADER_BYTES_AT_ONCE:
                        sent += len(headers)
                        yield bytes(headers)
                        headers.clear()
                    continue
                if headers:
                    sent += len(headers)
                    yield bytes(headers)
                    headers.clear()
                queue, task = ahead.popleft()
                received = 0
                while (chunk := await queue.get()) is not None:
                    received += len(chunk)
                    sent += len(chunk)
                    yield chunk
                await task  # raises what the reader met
                if received != piece.length:
                    raise ObjectMissing(
                        f"{piece.entry.path}: the store sent {received} bytes, not {piece.length}"
                    )
            if headers:
                yield bytes(headers)
        except Exception as exc:
            # The headers are gone: all that is left is to end short of Content-Length.
            log.error("archive.cut_short sent=%d of=%d error=%s", sent, last - first + 1, exc)
            raise
        finally:
            for _, task in ahead:
                task.cancel()

    async def _read_into(self, piece: ObjectSlice, queue: asyncio.Queue[bytes | None]) -> None:
        source: _Source = piece.entry.source  # type: ignore[assignment]
        try:
            async with self._reader.open(
                source.bucket, source.key, piece.first, piece.length
            ) as chunks:
                async for chunk in chunks:
                    await queue.put(chunk)
        finally:
            # The sender stops waiting whatever happened; the task's exception tells it why.
            await queue.put(None)


def archive_entries(images: Iterable[ArchiveImage]) -> list[ZipEntry]:
    """The archive's entries: each image under its folder and name, made safe and unique."""
    images = list(images)
    paths = ArchivePaths(image.folder for image in images)
    entries = []
    for image in images:
        bucket, key = _location(image.storage_path)
        assert image.crc32 is not None
        entries.append(
            ZipEntry(
                path=paths.assign(image.folder, image.name),
                size=image.size,
                crc32=int(image.crc32, 16),
                modified=image.modified,
                source=_Source(image.id, bucket, key),
            )
        )
    return entries


def archive_etag(layout: ZipLayout) -> str:
    """A strong ETag: the same for the same bytes, different when any entry's would be."""
    digest = hashlib.sha256(LAYOUT_VERSION.encode())
    for entry in layout.entries:
        source: _Source = entry.source  # type: ignore[assignment]
        digest.update(
            f"\0{entry.path}\0{entry.size}\0{entry.crc32}\0{entry.modified.isoformat()}"
            f"\0{source.bucket}\0{source.key}".encode()
        )
    return f'"{digest.hexdigest()[:32]}"'


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def requested_range(headers: Headers, size: int, etag: str) -> tuple[int, int] | None:
    """The one byte range a `Range` header asks for, (first, last); None for the whole archive
    (no Range, several ranges, a unit other than bytes, or an `If-Range` that is not the
    archive's ETag any more: RFC 9110 says to send it all then). RangeNotSatisfiable when it
    starts past the end."""
    header = headers.get("range")
    if not header:
        return None
    if_range = headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        return None
    match = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    start, end = match.group(1), match.group(2)
    if not start:
        # The last N bytes.
        length = int(end)
        if length == 0:
            raise _unsatisfiable(size)
        return max(size - length, 0), size - 1
    first = int(start)
    last = min(int(end), size - 1) if end else size - 1
    if first >= size or (end and int(end) < first):
        raise _unsatisfiable(size)
    return first, last


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"the archive has {size} bytes", headers={"Content-Range": f"bytes */{size}"}
    )


def _object_slices(layout: ZipLayout, first: int, last: int) -> Iterable[ObjectSlice]:
    return (piece for piece in layout.pieces(first, last) if isinstance(piece, ObjectSlice))


def _key_of(piece: ObjectSlice) -> tuple[str, str]:
    source: _Source = piece.entry.source  # type: ignore[assignment]
    return source.bucket, source.key


def _image_id(item: object) -> str:
    if isinstance(item, ArchiveImage):
        return item.id
    if isinstance(item, ObjectSlice):
        return item.entry.source.image_id  # type: ignore[attr-defined,no-any-return]
    return str(item)


def _location(storage_path: str) -> tuple[str, str]:
    bucket, _, key = storage_path.removeprefix("s3://").partition("/")
    return bucket, key
