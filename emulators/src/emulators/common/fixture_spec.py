"""The fixture spec grammar the emulators share. Every emulator describes its folders as data
(Drive's grammar, `emulators.google_drive.fixture`; Dropbox's and Nextcloud's are restricted
forms of it with keys of their own), and they read the common part of it the same way: sizes
(`5MB`, `[min, max]` seeded per file), media types from names, `name_pattern` runs of files,
`content_magic`, and real pictures (`emulators.common.pictures`) instead of synthetic bytes.
Everything is derived from the seed, so a fixture expands to the same items on every run.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from emulators.common.pictures import picture_from_spec, render

DEFAULT_SIZE: tuple[int, int] = (1024, 64 * 1024)

_EXTRA_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".avif": "image/avif",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
    ".mp4": "video/mp4",
    ".zip": "application/zip",
}
_SIZE_UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3}
_SIZE_UNITS |= {"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3}
_SIZE_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


def digest(*parts: object) -> bytes:
    """A SHA-256 of the parts: the seed of every id, token and number a fixture derives."""
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()


def parse_size(value: Any) -> int:
    """An int, or text such as `"5MB"` / `"1.5 MiB"`."""
    if isinstance(value, bool):
        raise ValueError(f"bad size {value!r}")
    if isinstance(value, int):
        return value
    match = _SIZE_TEXT.match(str(value))
    if match is None or match.group(2).upper() not in _SIZE_UNITS:
        raise ValueError(f"bad size {value!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).upper()])


def guess_mime_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return _EXTRA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def check_keys(spec: Mapping[str, Any], allowed: set[str], what: str) -> None:
    """A spec entry is a mapping of known keys with a `name` or a `name_pattern`."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"a {what} is a mapping")
    unknown = set(spec) - allowed
    if unknown:
        raise ValueError(f"unknown {what} keys: {sorted(unknown)}")
    if "name" not in spec and "name_pattern" not in spec:
        raise ValueError(f"a {what} needs a name")


def checked_name(value: Any, allowed_by: str) -> str:
    """A file or folder name: not empty, no `/`, not `.` or `..` (`allowed_by` ends the refusal:
    "is not a name <allowed_by>")."""
    name = str(value)
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"{name!r} is not a name {allowed_by}")
    return name


def file_names(spec: Mapping[str, Any], allowed_by: str) -> list[str]:
    """The names a file entry stands for: its `name`, or its `name_pattern` formatted with
    `i` from `start` (1), `count` (1) times."""
    if "name_pattern" not in spec:
        return [checked_name(spec["name"], allowed_by)]
    start = int(spec.get("start", 1))
    count = int(spec.get("count", 1))
    return [
        checked_name(str(spec["name_pattern"]).format(i=i), allowed_by)
        for i in range(start, start + count)
    ]


class FileContent(Protocol):
    """What of a file item its content comes from (the attributes the shared content generator
    reads, `emulators.google_drive.content`)."""

    id: str
    name: str
    size: Any  # an int once filled (Dropbox's folders have none)
    mime_type: str
    content_magic: str | None
    width: int
    height: int
    body: bytes | None

    @property
    def is_image(self) -> bool: ...


def fill_file_content(item: FileContent, spec: Mapping[str, Any], seed: int, index: int) -> None:
    """A file's size, media type, magic and dimensions from its spec entry, seeded per file;
    a `picture` entry renders a real image, whose bytes and size are the file's."""
    numbers = digest("size", seed, item.id)
    size_spec = spec.get("size", DEFAULT_SIZE)
    if isinstance(size_spec, Sequence) and not isinstance(size_spec, str):
        low, high = (parse_size(bound) for bound in size_spec)
        item.size = low + int.from_bytes(numbers[:6], "big") % (high - low + 1)
    else:
        item.size = parse_size(size_spec)
    item.mime_type = str(spec.get("mime_type") or guess_mime_type(item.name))
    magic = spec.get("content_magic")
    item.content_magic = None if magic is None else ("" if magic == "none" else str(magic))
    if spec.get("picture"):
        picture = picture_from_spec(
            spec["picture"],
            mime_type=item.mime_type,
            default_seed=int.from_bytes(numbers[8:12], "big"),
            index=index,
        )
        item.body = render(picture)
        item.size = len(item.body)
        item.width, item.height = picture.stored_size
    elif item.is_image and item.size:
        item.width = 640 + numbers[6] * 4
        item.height = 480 + numbers[7] * 3
