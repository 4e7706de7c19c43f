"""Deterministic file bytes: any range of any file, generated on demand at memory-copy speed.

A file is a sequence of 64 KiB blocks. Block k of file F is a 16-byte keyed digest of (F, k)
followed by a slice of a seeded noise pool at an offset that digest chooses. The digest makes every
file and every block distinct (two small files never share bytes), the pool slice makes generation
a memcpy rather than a per-byte loop, and block independence makes Range requests cheap. Block 0
starts with a magic header for the file's type so content sniffing recognises images.

A file whose fixture entry has a `picture` carries its bytes instead (`body`: a real image,
see `emulators.common.pictures`), served as they are.
"""

from __future__ import annotations

import hashlib
import random
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emulators.google_drive.fixture import DriveItem

BLOCK_SIZE = 64 * 1024
POOL_SIZE = 4 * 1024 * 1024
DEFAULT_CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class Checksums:
    md5: str
    sha1: str
    sha256: str


def _jpeg(width: int, height: int, size: int) -> bytes:
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", height, width)
    sof0 += b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof0


def _png(width: int, height: int, size: int) -> bytes:
    data = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + data
    crc = struct.pack(">I", zlib.crc32(chunk))
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + crc


def _gif(width: int, height: int, size: int) -> bytes:
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)


def _webp(width: int, height: int, size: int) -> bytes:
    riff_size = max(size - 8, 0) & 0xFFFFFFFF
    canvas = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WEBP"
        + b"VP8X"
        + struct.pack("<I", 10)
        + b"\x00\x00\x00\x00"
        + canvas
    )


def _bmp(width: int, height: int, size: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", size & 0xFFFFFFFF, 0, 0, 54) + info


def _tiff(width: int, height: int, size: int) -> bytes:
    return b"II*\x00" + struct.pack("<I", 8)


def _ftyp(brand: bytes, compatible: bytes) -> bytes:
    return struct.pack(">I", 24) + b"ftyp" + brand + struct.pack(">I", 0) + compatible


_HEADERS: dict[str, Callable[[int, int, int], bytes]] = {
    "image/jpeg": _jpeg,
    "image/png": _png,
    "image/gif": _gif,
    "image/webp": _webp,
    "image/bmp": _bmp,
    "image/tiff": _tiff,
    "image/heic": lambda w, h, s: _ftyp(b"heic", b"mif1heic"),
    "image/heif": lambda w, h, s: _ftyp(b"mif1", b"mif1heic"),
    "image/avif": lambda w, h, s: _ftyp(b"avif", b"mif1avif"),
    "application/pdf": lambda w, h, s: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    "video/mp4": lambda w, h, s: _ftyp(b"isom", b"isomiso2"),
    "application/zip": lambda w, h, s: b"PK\x03\x04",
}


def magic_header(kind: str | None, width: int, height: int, size: int) -> bytes:
    """The leading bytes a file of MIME type `kind` starts with (empty for unknown types)."""
    build = _HEADERS.get(kind or "")
    if build is None:
        return b""
    # A file can borrow another type's header (content_magic) without having dimensions.
    return build(width or 640, height or 480, size)


class ContentGenerator:
    """Produces the bytes of fixture files from a seed; safe to share between threads."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._key = hashlib.sha256(f"drive-emulator-content:{seed}".encode()).digest()[:32]
        # The pool is longer than POOL_SIZE by one block so any offset below POOL_SIZE has a
        # full block after it.
        self._pool = memoryview(random.Random(f"pool:{seed}").randbytes(POOL_SIZE + BLOCK_SIZE))
        self._checksums: dict[tuple[str, str], str] = {}

    def _block(self, item: DriveItem, index: int) -> bytes:
        digest = hashlib.blake2b(
            f"{_content_of(item)}:{index}".encode(), key=self._key, digest_size=16
        ).digest()
        offset = int.from_bytes(digest[:4], "big") % POOL_SIZE
        prefix = digest
        if index == 0:
            kind = item.content_magic if item.content_magic is not None else item.mime_type
            prefix = magic_header(kind, item.width, item.height, item.size or 0) + digest
        return prefix + self._pool[offset : offset + BLOCK_SIZE - len(prefix)]

    def chunks(
        self,
        item: DriveItem,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> Iterator[bytes]:
        """Yield bytes `start..end` (end exclusive, default the file size) in pieces of about
        `chunk_size` (whole blocks are joined, so a piece may be up to one block larger)."""
        total = item.size or 0
        stop = total if end is None else min(end, total)
        position = max(start, 0)
        if item.body is not None:
            for offset in range(position, stop, chunk_size):
                yield item.body[offset : min(offset + chunk_size, stop)]
            return
        pending: list[bytes] = []
        pending_size = 0
        while position < stop:
            index, within = divmod(position, BLOCK_SIZE)
            piece = self._block(item, index)[within : within + stop - position]
            position += len(piece)
            pending.append(piece)
            pending_size += len(piece)
            if pending_size >= chunk_size:
                yield b"".join(pending)
                pending = []
                pending_size = 0
        if pending:
            yield b"".join(pending)

    def read(self, item: DriveItem, start: int = 0, end: int | None = None) -> bytes:
        return b"".join(self.chunks(item, start, end))

    def checksum(self, item: DriveItem, algorithm: str) -> str:
        """Hex digest (`md5`, `sha1` or `sha256`) of the whole file, computed once and cached."""
        key = (_content_of(item), algorithm)
        cached = self._checksums.get(key)
        if cached is None:
            hasher = hashlib.new(algorithm)
            for chunk in self.chunks(item):
                hasher.update(chunk)
            cached = hasher.hexdigest()
            self._checksums[key] = cached
        return cached

    def checksums(self, item: DriveItem) -> Checksums:
        return Checksums(
            md5=self.checksum(item, "md5"),
            sha1=self.checksum(item, "sha1"),
            sha256=self.checksum(item, "sha256"),
        )


def _content_of(item: DriveItem) -> str:
    """What a file's bytes are made from: its id, unless the fixture gave several files one
    content (the other emulators' items, which share this generator, have no such key)."""
    return getattr(item, "content_id", None) or item.id
