"""The byte layout of a stored (not deflated) ZIP archive, computed from its entries' names,
sizes and CRC-32s alone, before any byte of their content is read.

Why by hand rather than with a streaming ZIP library: zipstream-ng and stream-zip compute each
entry's CRC-32 while its bytes pass and write it after them (a data descriptor) and again in
the central directory, so the archive's last bytes depend on every byte before them. A
download that resumes in the middle (`Range: bytes=N-`) would then have to read the whole
archive up to N again to write its end. With the CRC-32 of every image recorded when it is
stored, every header is known in advance: the archive is a sequence of pieces (a header
made here, an object's bytes read from S3 at the right offset, the central directory made
here), and any byte range of it is produced by reading only what that range covers. Stored
entries keep the size exact in advance too: photos do not compress.

The format follows PKWARE's APPNOTE 6.3: UTF-8 names (flag bit 11), no data descriptors,
ZIP64 extra fields on the entries whose size or offset does not fit 32 bits and ZIP64 end
records when the directory does not (`zip64_from` lowers the threshold, so that tests reach
those paths with small archives).
"""

import bisect
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ZipEntry:
    """One file of the archive: its path inside it (already safe, '/'-separated), its size
    and CRC-32, its modification time (as the reader's wall clock), and what to read its bytes
    from (opaque here)."""

    path: str
    size: int
    crc32: int
    modified: datetime
    source: object


@dataclass(frozen=True)
class ObjectSlice:
    """Bytes `first`..`first + length - 1` of an entry's content."""

    entry: ZipEntry
    first: int
    length: int


Piece = bytes | ObjectSlice

# Past these, a field takes its ZIP64 form.
MAX_32 = 0xFFFFFFFF
MAX_16 = 0xFFFF
# 4.5 (ZIP64) in the "version needed" fields where it is needed, 2.0 elsewhere; made by Unix
# (so that the external attributes carry a file mode).
_VERSION_ZIP64 = 45
_VERSION_PLAIN = 20
_MADE_BY = (3 << 8) | _VERSION_ZIP64
_UTF8_NAMES = 1 << 11
_STORED = 0
# -rw-r--r--, a regular file.
_FILE_ATTRIBUTES = (0o100644 << 16) & MAX_32

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_ZIP64_EXTRA_HEADER = struct.Struct("<HH")
_END64 = struct.Struct("<IQHHIIQQQQ")
_END64_LOCATOR = struct.Struct("<IIQI")
_END = struct.Struct("<IHHHHIIH")


class ZipLayout:
    """Where every piece of the archive of `entries` lies, and its total size. Memory: a few
    integers per entry; the headers are made again when a range needs them."""

    def __init__(self, entries: Sequence[ZipEntry], *, zip64_from: int = MAX_32) -> None:
        self.entries = entries
        self._zip64_from = zip64_from
        self._local_offsets: list[int] = []
        offset = 0
        for entry in entries:
            self._local_offsets.append(offset)
            offset += len(self._local_header(entry, offset)) + entry.size
        self.central_directory_offset = offset
        self.central_directory_size = sum(
            len(self._central_header(entry, local_offset))
            for entry, local_offset in zip(entries, self._local_offsets, strict=True)
        )
        self.size = (
            self.central_directory_offset + self.central_directory_size + len(self._end_records())
        )

    def pieces(self, first: int = 0, last: int | None = None) -> Iterator[Piece]:
        """The archive's bytes `first`..`last` (inclusive; to the end when None), in order:
        header bytes made here, and slices of the entries' contents to read."""
        last = self.size - 1 if last is None else last
        if not 0 <= first <= last < self.size:
            raise ValueError(f"bytes {first}-{last} are outside an archive of {self.size}")
        end = last + 1
        # The entry whose local header or content holds `first`.
        start_at = max(bisect.bisect_right(self._local_offsets, first) - 1, 0)
        for index in range(start_at, len(self.entries)):
            entry = self.entries[index]
            header_at = self._local_offsets[index]
            if header_at >= end:
                return
            header = self._local_header(entry, header_at)
            yield from _clip(header, header_at, first, end)
            content_at = header_at + len(header)
            start, stop = max(first, content_at), min(end, content_at + entry.size)
            if start < stop:
                yield ObjectSlice(entry, start - content_at, stop - start)
        if end <= self.central_directory_offset:
            return
        # The central directory, made again entry by entry: the skipped entries' headers are
        # counted, not kept.
        at = self.central_directory_offset
        for entry, local_offset in zip(self.entries, self._local_offsets, strict=True):
            if at >= end:
                return
            header = self._central_header(entry, local_offset)
            if at + len(header) > first:
                yield from _clip(header, at, first, end)
            at += len(header)
        yield from _clip(self._end_records(), at, first, end)

    def _local_header(self, entry: ZipEntry, offset: int) -> bytes:
        name = entry.path.encode()
        zip64 = entry.size >= self._zip64_from
        # In a local header the ZIP64 extra field holds both sizes, or is left out.
        extra = _zip64_extra(entry.size, entry.size) if zip64 else b""
        time, date = _dos_time(entry.modified)
        size = MAX_32 if zip64 else entry.size
        fixed = _LOCAL.pack(
            0x04034B50,
            _VERSION_ZIP64 if zip64 or offset >= self._zip64_from else _VERSION_PLAIN,
            _UTF8_NAMES,
            _STORED,
            time,
            date,
            entry.crc32,
            size,
            size,
            len(name),
            len(extra),
        )
        return fixed + name + extra

    def _central_header(self, entry: ZipEntry, local_offset: int) -> bytes:
        name = entry.path.encode()
        big_size = entry.size >= self._zip64_from
        big_offset = local_offset >= self._zip64_from
        # The central directory's ZIP64 field holds only what overflowed, in this order.
        values = [entry.size, entry.size] if big_size else []
        if big_offset:
            values.append(local_offset)
        extra = _zip64_extra(*values) if values else b""
        time, date = _dos_time(entry.modified)
        size = MAX_32 if big_size else entry.size
        fixed = _CENTRAL.pack(
            0x02014B50,
            _MADE_BY,
            _VERSION_ZIP64 if values else _VERSION_PLAIN,
            _UTF8_NAMES,
            _STORED,
            time,
            date,
            entry.crc32,
            size,
            size,
            len(name),
            len(extra),
            0,  # comment length
            0,  # disk number
            0,  # internal attributes
            _FILE_ATTRIBUTES,
            MAX_32 if big_offset else local_offset,
        )
        return fixed + name + extra

    def _end_records(self) -> bytes:
        count = len(self.entries)
        offset, size = self.central_directory_offset, self.central_directory_size
        big_offset, big_size = offset >= self._zip64_from, size >= self._zip64_from
        big_count = count >= MAX_16
        records = b""
        if big_offset or big_size or big_count:
            records = _END64.pack(
                0x06064B50,
                _END64.size - 12,  # the record's size, less its signature and this field
                _MADE_BY,
                _VERSION_ZIP64,
                0,  # this disk
                0,  # the disk the directory starts on
                count,
                count,
                size,
                offset,
            ) + _END64_LOCATOR.pack(0x07064B50, 0, offset + size, 1)
        # What overflowed says so (all ones): readers then take it from the ZIP64 record.
        return records + _END.pack(
            0x06054B50,
            0,
            0,
            MAX_16 if big_count else count,
            MAX_16 if big_count else count,
            MAX_32 if big_size else size,
            MAX_32 if big_offset else offset,
            0,  # comment length
        )


def _zip64_extra(*values: int) -> bytes:
    return _ZIP64_EXTRA_HEADER.pack(0x0001, 8 * len(values)) + struct.pack(
        f"<{len(values)}Q", *values
    )


def _clip(data: bytes, at: int, first: int, end: int) -> Iterator[bytes]:
    """The part of `data` (which starts at `at` in the archive) within `first`..`end - 1`."""
    start, stop = max(first - at, 0), min(end - at, len(data))
    if start < stop:
        yield data if (start, stop) == (0, len(data)) else data[start:stop]


def _dos_time(moment: datetime) -> tuple[int, int]:
    """MS-DOS time and date (two-second steps, years 1980 to 2107), clamped to that range."""
    if moment.year < 1980:
        moment = datetime(1980, 1, 1)
    elif moment.year > 2107:
        moment = datetime(2107, 12, 31, 23, 59, 58)
    time = (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2)
    date = ((moment.year - 1980) << 9) | (moment.month << 5) | moment.day
    return time, date
