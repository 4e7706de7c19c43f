"""Paths inside an archive that every operating system can extract: the images' own names
and folders, changed only where a system would refuse them or two would land on one file.

Windows is the strictest: no `< > : " / \\ | ? *` or control characters, no name ending in a dot
or a space, no device name (CON, NUL, COM1, ... with any extension), 255 characters a name.
Linux counts 255 bytes a name; macOS and Windows compare names without regard to case (and
macOS to Unicode normalisation), so "IMG.jpg" and "img.JPG" are one file there: such clashes
are numbered the way browsers and file managers number a second download, "IMG (2).jpg".
"""

import re
import unicodedata
from collections.abc import Iterable

# Characters Windows refuses in a name, and every control character.
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
# Device names Windows reserves, with or without an extension (superscript digits included).
_RESERVED = re.compile(r"(?:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(?:\..*)?", re.IGNORECASE)
# UTF-8 bytes a name may take (ext4, APFS and NTFS all take at least this many).
MAX_NAME_BYTES = 255
# Characters a whole path may take: Windows' MAX_PATH (260) less room for the folder the
# archive is extracted into.
MAX_PATH_CHARACTERS = 200
# Folders kept above a file; deeper ones are joined into the last.
MAX_DEPTH = 16


def safe_name(name: str) -> str:
    """One path segment as every system takes it."""
    name = unicodedata.normalize("NFC", name)
    name = _FORBIDDEN.sub("_", name).strip().rstrip(". ")
    if not name or set(name) == {"."}:
        return "_"
    if _RESERVED.fullmatch(name):
        name = "_" + name
    return _shorten(name, MAX_NAME_BYTES)


def _shorten(name: str, max_bytes: int) -> str:
    """`name` cut to `max_bytes` of UTF-8, keeping its extension."""
    if len(name.encode()) <= max_bytes:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension.encode()) > 16:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    room = max_bytes - len(suffix.encode())
    cut = stem.encode()[:room].decode(errors="ignore").rstrip(". ")
    return (cut or "_") + suffix


def _key(path: str) -> str:
    """Paths one file system could not tell apart map to one key."""
    return unicodedata.normalize("NFC", path).casefold()


class ArchivePaths:
    """Gives each file a safe path, unique in the archive. Every folder is known before any
    file is named, so that a file never takes a folder's name."""

    def __init__(self, folders: Iterable[str]) -> None:
        self._taken: set[str] = set()
        # The first spelling of each folder, so that "Trip" and "trip" are one folder here as
        # on the systems that ignore case.
        self._spelling: dict[str, str] = {"": ""}
        for folder in folders:
            self._folder(folder)

    def assign(self, folder: str, name: str) -> str:
        spelled = self._folder(folder)
        prefix = f"{spelled}/" if spelled else ""
        name = safe_name(name)
        room = max(MAX_PATH_CHARACTERS - len(prefix), 40)
        if len(name) > room:
            name = _shorten_characters(name, room)
        candidate = prefix + name
        number = 1
        while _key(candidate) in self._taken:
            number += 1
            candidate = prefix + _numbered(name, number)
        self._taken.add(_key(candidate))
        return candidate

    def _folder(self, folder: str) -> str:
        """The folder's safe path, spelled as it was first seen; every level of it taken."""
        spelled = ""
        for part in _folder_parts(folder):
            path = f"{spelled}/{part}" if spelled else part
            spelled = self._spelling.setdefault(_key(path), path)
            self._taken.add(_key(path))
        return spelled


def _folder_parts(folder: str) -> list[str]:
    parts = [safe_name(part) for part in re.split(r"[/\\]", folder) if part.strip()]
    if len(parts) > MAX_DEPTH:
        parts = [*parts[: MAX_DEPTH - 1], safe_name(" ".join(parts[MAX_DEPTH - 1 :]))]
    return parts


def _numbered(name: str, number: int) -> str:
    """ "IMG.jpg" → "IMG (2).jpg", still within the limits."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        stem, extension = name, ""
    suffix = f" ({number})" + (f".{extension}" if extension else "")
    stem = stem.encode()[: MAX_NAME_BYTES - len(suffix.encode())].decode(errors="ignore")
    return stem + suffix


def _shorten_characters(name: str, characters: int) -> str:
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > 16:
        return name[:characters].rstrip(". ") or "_"
    return (stem[: characters - len(extension) - 1].rstrip(". ") or "_") + "." + extension
