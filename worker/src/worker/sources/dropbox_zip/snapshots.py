"""The copies of folder zips a worker process holds on disk, by (link, snapshot name).

Shared by the jobs of the process on purpose: the point is that they download a folder once,
not once each. A download happens under a per-key lock, so concurrent jobs wait for one
download. Copies unused for `keep_seconds` are deleted; so are those of a worker that died (its
directory names its process id). A crash mid-download leaves only a `.part` file, which nobody
reads.
"""

import asyncio
import contextlib
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
from dataclasses import dataclass, field
from pathlib import Path

from worker.sources.base import TransientSourceError

_OWN_DIR = re.compile(r"^dropbox-zips-(\d+)-")
KEEP_SECONDS = 600.0


@dataclass
class ZipEntry:
    name: str
    path: str  # below the link's root, "/sub/a.jpg"
    info: zipfile.ZipInfo | None  # None for a folder


@dataclass
class ZipCopy:
    """One copy of a folder's zip on disk, with its directory read once."""

    path: Path
    archive: zipfile.ZipFile
    # Folder path (lowercase) → its direct children by lowercase name.
    children: dict[str, dict[str, ZipEntry]] = field(default_factory=dict)
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
                    siblings[name.lower()] = ZipEntry(name, entry_path, info if is_file else None)
                if is_file:
                    copy.files[entry_path.lower()] = info
                else:
                    copy.children.setdefault(entry_path.lower(), {})
                parent = entry_path
        return copy

    def listing(self, folder: str) -> list[ZipEntry] | None:
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
    """This worker process's copies of folder zips, by (link, snapshot)."""

    def __init__(
        self,
        download: Callable[[str, Path], Awaitable[None]],
        directory: str | None,
        keep_seconds: float = KEEP_SECONDS,
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
