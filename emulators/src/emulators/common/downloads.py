"""Sending a file's bytes: the whole file or the one range a `Range` header asks for, counted
in the stats, and cut part-way on purpose when a `cut_body` fault says so."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from emulators.common.asgi import Send
from emulators.common.faults import BaseFaultRule

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


class BodyCut(Exception):
    """Raised mid-download so the server drops the connection with the body incomplete."""


class ByteCounters(Protocol):
    bytes_served: int
    bytes_by_file: Counter[str]
    faults_injected: Counter[str]


def parse_range(
    header: str | None, total: int, unsatisfiable: Callable[[int], Exception]
) -> tuple[int, int] | None:
    """The inclusive byte range a `Range` header asks for, None to send everything.

    Malformed and multi-range headers are ignored (RFC 9110 allows it); a range that starts
    past the end, or any range on an empty file, raises the emulator's 416, `unsatisfiable(total)`.
    """
    if header is None:
        return None
    match = _RANGE.match(header)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        suffix = int(last)
        if suffix == 0 or total == 0:
            raise unsatisfiable(total)
        return max(0, total - suffix), total - 1
    start = int(first)
    end = total - 1 if last == "" else int(last)
    if last != "" and end < start:
        return None
    if start >= total:
        raise unsatisfiable(total)
    return start, min(end, total - 1)


async def send_file_bytes(
    send: Send,
    *,
    file_id: str,
    total: int,
    byte_range: tuple[int, int] | None,
    read: Callable[[int, int], Iterable[bytes]],
    content_type: bytes,
    extra_headers: Sequence[tuple[bytes, bytes]],
    stats: ByteCounters,
    cut: BaseFaultRule | None,
) -> None:
    """One response with the file's `total` bytes, or `byte_range` of them (206).

    `read(start, stop)` yields the bytes from `start` to `stop` (exclusive) in chunks. With a
    `cut`, the connection drops after `cut.cut_point` bytes: `BodyCut` is raised, so the server
    never ends the body and the client sees fewer bytes than Content-Length announced.
    """
    start, end = byte_range if byte_range is not None else (0, total - 1)
    length = end - start + 1 if total else 0
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(length).encode()),
        *extra_headers,
    ]
    if byte_range is not None:
        headers.append((b"content-range", f"bytes {start}-{end}/{total}".encode()))
    status = 206 if byte_range is not None else 200
    cut_point = cut.cut_point(length) if cut is not None and length > 0 else None

    await send({"type": "http.response.start", "status": status, "headers": headers})
    sent = 0
    for chunk in read(start, end + 1) if length else ():
        if cut_point is not None and sent + len(chunk) > cut_point:
            partial = chunk[: cut_point - sent]
            if partial:
                await send({"type": "http.response.body", "body": partial, "more_body": True})
                stats.bytes_served += len(partial)
                stats.bytes_by_file[file_id] += len(partial)
            stats.faults_injected["cut_body"] += 1
            raise BodyCut(f"cut {file_id} after {cut_point} of {length} bytes")
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        sent += len(chunk)
        stats.bytes_served += len(chunk)
        stats.bytes_by_file[file_id] += len(chunk)
    await send({"type": "http.response.body", "body": b"", "more_body": False})
