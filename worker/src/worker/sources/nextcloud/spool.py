"""A folder's listing kept on disk between its pages.

WebDAV answers a folder in one piece, while the pipeline lists a folder page by page from a
checkpoint (`next_page_token`). So a folder's first page reads the whole answer as it streams
in and writes each entry to a file of its own, one JSON line each, under a name (a `snapshot`);
that page and the following ones are read from the file, `page_size` lines at a time, and the
page token is `<snapshot>:<index of the next entry>`. Memory holds one page, whatever the
folder's size.

Every page after the first can also run in another worker process (a listing job runs for a
while, then queues the rest as a new job): that process, holding no file of that name, reads the
folder again into a file of that name and carries on from the index. Servers list a folder in a
stable order (Nextcloud and ownCloud by name), and a file recorded twice by one import is
recognised as the same file, so a folder changed meanwhile at worst adds or misses what changed
in between, as any listing of a changing folder does.

A file is removed once its last page was read, and any left behind (an import cancelled
mid-folder) once unused for KEEP_SECONDS.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from array import array
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from worker.sources.nextcloud.multistatus import DavEntry

KEEP_SECONDS = 3600.0


class Spool:
    """One folder's entries on disk, and where each line starts."""

    def __init__(self, path: Path, offsets: array[int]) -> None:
        self.path = path
        self._offsets = offsets
        self.used_at = time.monotonic()

    def __len__(self) -> int:
        return len(self._offsets)

    def read(self, start: int, count: int) -> list[DavEntry]:
        self.used_at = time.monotonic()
        if start >= len(self._offsets):
            return []
        entries: list[DavEntry] = []
        with self.path.open("rb") as lines:
            lines.seek(self._offsets[start])
            for _ in range(min(count, len(self._offsets) - start)):
                entries.append(DavEntry(**json.loads(lines.readline())))
        return entries


class SpoolWriter:
    """Writes entries as they are parsed; `finish` gives the `Spool`."""

    def __init__(self, directory: Path, snapshot: str) -> None:
        self._final = directory / f"{snapshot}.jsonl"
        self._part = directory / f"{snapshot}.jsonl.part"
        self._file: IO[bytes] = self._part.open("wb")
        self._offsets: array[int] = array("q")
        self._position = 0

    def write(self, entries: Iterable[DavEntry]) -> None:
        for entry in entries:
            line = json.dumps(asdict(entry), ensure_ascii=False, separators=(",", ":")).encode()
            self._offsets.append(self._position)
            self._file.write(line + b"\n")
            self._position += len(line) + 1

    def finish(self) -> Spool:
        self._file.close()
        os.replace(self._part, self._final)
        return Spool(self._final, self._offsets)

    def abandon(self) -> None:
        self._file.close()
        self._part.unlink(missing_ok=True)


class Spools:
    """The process's spooled listings by snapshot name, shared by its jobs."""

    def __init__(self, parent_dir: str | None, keep_seconds: float = KEEP_SECONDS) -> None:
        self._parent_dir = parent_dir
        self._keep_seconds = keep_seconds
        self._directory: Path | None = None
        self._spools: dict[str, Spool] = {}

    def get(self, snapshot: str) -> Spool | None:
        return self._spools.get(snapshot)

    def writer(self, snapshot: str) -> SpoolWriter:
        self._forget_unused()
        return SpoolWriter(self._dir(), snapshot)

    def keep(self, snapshot: str, spool: Spool) -> None:
        old = self._spools.pop(snapshot, None)
        if old is not None and old.path != spool.path:
            old.path.unlink(missing_ok=True)
        self._spools[snapshot] = spool

    def drop(self, snapshot: str) -> None:
        spool = self._spools.pop(snapshot, None)
        if spool is not None:
            spool.path.unlink(missing_ok=True)

    def _forget_unused(self) -> None:
        now = time.monotonic()
        for snapshot, spool in list(self._spools.items()):
            if now - spool.used_at > self._keep_seconds:
                self.drop(snapshot)

    def _dir(self) -> Path:
        if self._directory is None or not self._directory.is_dir():
            self._directory = Path(
                tempfile.mkdtemp(prefix="nextcloud-listings-", dir=self._parent_dir)
            )
        return self._directory

    def to_json(self) -> dict[str, Any]:
        return {"spools": len(self._spools), "directory": str(self._directory)}
