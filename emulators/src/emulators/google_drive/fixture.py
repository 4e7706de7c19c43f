"""The fixture: a declarative description of Drive folders, expanded into items with stable ids.

A spec is a mapping (Python dict or YAML):

    seed: 7                       # namespaces ids and seeds bytes; default 0
    folders:                      # the shared folders (roots)
      - name: photos
        resource_key: true        # true = derive one; or an explicit "0-…" string
        shared_drive: false       # true (or a drive name) puts the folder and its subtree there
        short_pages: [1, 0.5, 0]  # listing this folder returns short/empty pages
        files:
          - name_pattern: "IMG_{i:05d}.jpg"   # str.format with i = start, start+1, …
            count: 1000
            start: 1
            mime_type: image/jpeg # default: guessed from the extension
            size: [1000, 50000]   # int, [min, max] (seeded per file), or "5MB"
          - name: "Trip plan"
            mime_type: application/vnd.google-apps.document
          - name: "link.jpg"
            shortcut_to: photos/sub/IMG_00001.jpg   # fixture path, or a list of names
          - name: "dangling.jpg"
            shortcut_to_id: 1MissingMissingMissingMissingMiss
        folders: [...]
    files: [...]                  # files outside any shared folder (e.g. shortcut targets)

File keys: name | name_pattern (+ count, start), mime_type, size, id, trashed, resource_key,
shared_drive, abusive, download_quota_exceeded, shortcut_to | shortcut_to_id (+ target_mime_type),
content_magic (the type whose magic header the bytes start with; "none" for none), width, height,
created_time, modified_time, description, picture (a real image of the file's type instead of
synthetic bytes, its size that of the encoded picture: see `emulators.common.pictures`),
content_key (files with the same one have the same bytes and size, as copies of one photo in
several folders do; formatted with i like name_pattern).
Folder keys: name, id, trashed, resource_key, shared_drive, short_pages, files, folders,
created_time, modified_time, description.
A single folder mapping (one with a `name`) is accepted as a spec with that one root.

Ids are 33 characters of `[A-Za-z0-9_-]` starting with `1`, hashed from the seed and the item's
path, so they are stable across runs; duplicate names in one folder get distinct ids.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from emulators.common.fixture_spec import DEFAULT_SIZE, guess_mime_type, parse_size
from emulators.common.fixture_spec import digest as _digest
from emulators.common.pictures import picture_from_spec, render
from emulators.google_drive.content import DEFAULT_CHUNK_SIZE, Checksums, ContentGenerator
from emulators.google_drive.paging import ShortPages

FOLDER_MIME = "application/vnd.google-apps.folder"
SHORTCUT_MIME = "application/vnd.google-apps.shortcut"
GOOGLE_APPS_PREFIX = "application/vnd.google-apps."

_EPOCH_MS = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1000)
_DAY_MS = 86_400_000
_FILE_KEYS = {
    "name",
    "name_pattern",
    "count",
    "start",
    "mime_type",
    "size",
    "id",
    "trashed",
    "resource_key",
    "shared_drive",
    "abusive",
    "download_quota_exceeded",
    "shortcut_to",
    "shortcut_to_id",
    "target_mime_type",
    "content_magic",
    "width",
    "height",
    "created_time",
    "modified_time",
    "description",
    "content_key",
    "picture",
}
_FOLDER_KEYS = {
    "name",
    "id",
    "trashed",
    "resource_key",
    "shared_drive",
    "short_pages",
    "files",
    "folders",
    "created_time",
    "modified_time",
    "description",
}
_ASPECTS = ((4, 3), (3, 2), (16, 9), (1, 1), (5, 4))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def format_time(epoch_ms: int) -> str:
    """RFC 3339 with milliseconds and `Z`, as Drive writes timestamps."""
    moment = datetime.fromtimestamp(epoch_ms // 1000, UTC)
    return f"{moment.isoformat()[:19]}.{epoch_ms % 1000:03d}Z"


def _parse_time(value: Any) -> int:
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


class _Numbers:
    """Deterministic numbers for one item, drawn from a single digest (fast for 100,000 items)."""

    def __init__(self, digest: bytes) -> None:
        self._digest = digest
        self._pos = 0

    def below(self, bound: int) -> int:
        chunk = self._digest[self._pos : self._pos + 6]
        self._pos += 6
        return int.from_bytes(chunk, "big") % bound

    def between(self, low: int, high: int) -> int:
        return low + self.below(high - low + 1) if high > low else low


@dataclass(slots=True, eq=False)
class DriveItem:
    """One file, folder or shortcut as the emulator serves it."""

    id: str
    name: str
    mime_type: str
    path: tuple[str, ...]
    parent_id: str | None
    size: int | None
    created_ms: int
    modified_ms: int
    trashed: bool = False
    explicitly_trashed: bool = False
    resource_key: str | None = None
    drive_id: str | None = None
    shortcut_target_id: str | None = None
    shortcut_target_mime_type: str | None = None
    shortcut_target_resource_key: str | None = None
    abusive: bool = False
    download_quota_exceeded: bool = False
    content_magic: str | None = None
    width: int = 0
    height: int = 0
    description: str | None = None
    # What the bytes are made from: the item's id, unless the fixture gave several files the
    # same content.
    content_id: str | None = None
    # A real image's bytes (see emulators.common.pictures); None: synthetic bytes.
    body: bytes | None = None
    short_pages: ShortPages | None = None
    children: list[DriveItem] = field(default_factory=list)

    @property
    def created_time(self) -> str:
        return format_time(self.created_ms)

    @property
    def modified_time(self) -> str:
        return format_time(self.modified_ms)

    @property
    def is_folder(self) -> bool:
        return self.mime_type == FOLDER_MIME

    @property
    def is_shortcut(self) -> bool:
        return self.mime_type == SHORTCUT_MIME

    @property
    def is_google_type(self) -> bool:
        """Folders, shortcuts and Docs-editor files: no bytes to download."""
        return self.mime_type.startswith(GOOGLE_APPS_PREFIX)

    @property
    def has_content(self) -> bool:
        return not self.is_google_type

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")


@dataclass(frozen=True)
class ExpectedFile:
    """A file an importer should end up with, and how to get its true bytes and checksums."""

    id: str
    name: str
    mime_type: str
    size: int
    path: str
    parent_id: str | None
    resource_key: str | None
    shortcut_id: str | None
    fixture: DriveFixture = field(repr=False, compare=False)

    @property
    def md5(self) -> str:
        return self.fixture.checksums(self.id).md5

    @property
    def sha256(self) -> str:
        return self.fixture.checksums(self.id).sha256

    def chunks(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        return self.fixture.iter_bytes(self.id, chunk_size=chunk_size)

    def read(self) -> bytes:
        return self.fixture.read_bytes(self.id)


class _Builder:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.items: dict[str, DriveItem] = {}
        self.by_path: dict[tuple[str, ...], DriveItem] = {}
        self.path_uses: dict[tuple[str, ...], int] = {}
        self.shortcuts: list[tuple[DriveItem, Mapping[str, Any]]] = []

    def _numbers(self, identity: str) -> _Numbers:
        return _Numbers(hashlib.blake2b(f"{self.seed}\x1f{identity}".encode()).digest())

    def _identity(self, path: tuple[str, ...]) -> str:
        uses = self.path_uses.get(path, 0)
        self.path_uses[path] = uses + 1
        return "\x1f".join(path) + (f"#{uses}" if uses else "")

    def _register(self, item: DriveItem) -> None:
        if item.id in self.items:
            raise ValueError(f"duplicate id {item.id} at {'/'.join(item.path)}")
        self.items[item.id] = item
        self.by_path.setdefault(item.path, item)

    def _common(
        self,
        spec: Mapping[str, Any],
        name: str,
        path: tuple[str, ...],
        parent: DriveItem | None,
        mime_type: str,
    ) -> DriveItem:
        identity = self._identity(path)
        numbers = self._numbers(identity)
        item_id = str(spec.get("id") or "1" + _b64(_digest("id", self.seed, identity))[:32])
        created = _EPOCH_MS + numbers.below(3 * 365 * _DAY_MS)
        modified = created + numbers.below(365 * _DAY_MS)
        if "created_time" in spec:
            created = _parse_time(spec["created_time"])
        if "modified_time" in spec:
            modified = _parse_time(spec["modified_time"])
        resource_key = spec.get("resource_key")
        if resource_key is True:
            resource_key = "0-" + _b64(_digest("resource-key", item_id))[:22]
        drive_id = parent.drive_id if parent is not None else None
        shared = spec.get("shared_drive")
        if shared:
            drive_name = shared if isinstance(shared, str) else path[0]
            drive_id = "0A" + _b64(_digest("drive", self.seed, drive_name))[:17]
        trashed_here = bool(spec.get("trashed", False))
        inherited_trash = parent.trashed if parent is not None else False
        return DriveItem(
            id=item_id,
            name=name,
            mime_type=mime_type,
            path=path,
            parent_id=parent.id if parent is not None else None,
            size=None,
            created_ms=created,
            modified_ms=modified,
            trashed=trashed_here or inherited_trash,
            explicitly_trashed=trashed_here,
            resource_key=resource_key or None,
            drive_id=drive_id,
            description=spec.get("description"),
        )

    def folder(self, spec: Mapping[str, Any], parent: DriveItem | None) -> DriveItem:
        _check_keys(spec, _FOLDER_KEYS, "folder")
        name = str(spec["name"])
        path = (*parent.path, name) if parent else (name,)
        item = self._common(spec, name, path, parent, FOLDER_MIME)
        item.short_pages = ShortPages.parse(spec.get("short_pages"))
        self._register(item)
        for child in spec.get("files", ()):
            item.children.extend(self.files(child, item))
        for child in spec.get("folders", ()):
            item.children.append(self.folder(child, item))
        return item

    def files(self, spec: Mapping[str, Any], parent: DriveItem | None) -> list[DriveItem]:
        _check_keys(spec, _FILE_KEYS, "file")
        if "name_pattern" in spec:
            if "id" in spec:
                raise ValueError("a name_pattern entry cannot carry an explicit id")
            start = int(spec.get("start", 1))
            numbers = range(start, start + int(spec.get("count", 1)))
            names = [str(spec["name_pattern"]).format(i=i) for i in numbers]
            keys = [str(spec.get("content_key", "")).format(i=i) or None for i in numbers]
        else:
            names = [str(spec["name"])]
            keys = [str(spec["content_key"]) if "content_key" in spec else None]
        return [
            self.file(spec, name, parent, index, content_key=key)
            for index, (name, key) in enumerate(zip(names, keys, strict=True))
        ]

    def file(
        self,
        spec: Mapping[str, Any],
        name: str,
        parent: DriveItem | None,
        index: int = 0,
        content_key: str | None = None,
    ) -> DriveItem:
        is_shortcut = "shortcut_to" in spec or "shortcut_to_id" in spec
        if is_shortcut:
            mime_type = SHORTCUT_MIME
        else:
            mime_type = str(spec.get("mime_type") or guess_mime_type(name))
        path = (*parent.path, name) if parent else (name,)
        item = self._common(spec, name, path, parent, mime_type)
        item.content_id = None if content_key is None else f"content:{content_key}"
        numbers = self._numbers(item.content_id or item.id)
        if item.has_content:
            size_spec = spec.get("size", DEFAULT_SIZE)
            if isinstance(size_spec, Sequence) and not isinstance(size_spec, str):
                low, high = (parse_size(bound) for bound in size_spec)
                item.size = numbers.between(low, high)
            else:
                item.size = parse_size(size_spec)
            magic = spec.get("content_magic")
            item.content_magic = None if magic is None else ("" if magic == "none" else magic)
        if spec.get("picture") and item.has_content:
            picture = picture_from_spec(
                spec["picture"], mime_type=mime_type, default_seed=numbers.below(2**31), index=index
            )
            item.body = render(picture)
            item.size = len(item.body)
            item.width, item.height = picture.stored_size
        # Drive only knows dimensions of media it could read, so an empty image has none.
        elif (item.is_image or mime_type.startswith("video/")) and item.size:
            across, down = _ASPECTS[numbers.below(len(_ASPECTS))]
            longer = 640 + 8 * numbers.below(671)
            width, height = longer, longer * down // across
            if numbers.below(10) < 3:
                width, height = height, width
            item.width = int(spec.get("width", width))
            item.height = int(spec.get("height", height))
        item.abusive = bool(spec.get("abusive", False))
        item.download_quota_exceeded = bool(spec.get("download_quota_exceeded", False))
        if is_shortcut:
            self.shortcuts.append((item, spec))
        self._register(item)
        return item

    def resolve_shortcuts(self) -> None:
        for item, spec in self.shortcuts:
            target: DriveItem | None = None
            if "shortcut_to" in spec:
                target = self.by_path.get(_as_path(spec["shortcut_to"]))
                if target is None:
                    raise ValueError(f"shortcut {item.name!r} points at unknown path")
                item.shortcut_target_id = target.id
            else:
                item.shortcut_target_id = str(spec["shortcut_to_id"])
                target = self.items.get(item.shortcut_target_id)
            fallback = target.mime_type if target is not None else "image/jpeg"
            item.shortcut_target_mime_type = str(spec.get("target_mime_type") or fallback)
            item.shortcut_target_resource_key = target.resource_key if target else None


def _check_keys(spec: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = set(spec) - allowed
    if unknown:
        raise ValueError(f"unknown {what} keys: {sorted(unknown)}")
    if "name" not in spec and "name_pattern" not in spec:
        raise ValueError(f"a {what} needs a name")


def _as_path(path: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(path, str):
        return tuple(part for part in path.strip("/").split("/") if part)
    return tuple(path)


def normalize_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A fixture document; a bare folder mapping (which may carry `seed`) becomes a document
    with that one root."""
    if not isinstance(spec, Mapping):
        raise ValueError("a fixture spec is a mapping")
    document = dict(spec)
    if "name" in spec:
        folder = dict(spec)
        document = {"folders": [folder]}
        if "seed" in folder:
            document["seed"] = folder.pop("seed")
    unknown = set(document) - {"seed", "folders", "files"}
    if unknown:
        raise ValueError(f"unknown fixture keys: {sorted(unknown)}")
    return document


class DriveFixture:
    """A whole emulated Drive: items by id, the shared folders, and the bytes of every file."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        spec = normalize_spec(spec)
        self.seed = int(spec.get("seed", 0))
        builder = _Builder(self.seed)
        self.roots: list[DriveItem] = [builder.folder(f, None) for f in spec.get("folders", ())]
        self.loose_files: list[DriveItem] = []
        for entry in spec.get("files", ()):
            self.loose_files.extend(builder.files(entry, None))
        builder.resolve_shortcuts()
        self._items = builder.items
        self._by_path = builder.by_path
        self.content = ContentGenerator(self.seed)

    @classmethod
    def from_yaml(cls, path: str | Path) -> DriveFixture:
        with open(path, encoding="utf-8") as handle:
            return cls(yaml.safe_load(handle))

    @classmethod
    def sample(cls, extra_files: int = 0, seed: int = 0) -> DriveFixture:
        """The built-in demo folder (see `samples.py`), optionally with a bulk subfolder."""
        from emulators.google_drive.samples import sample_spec

        return cls(sample_spec(extra_files=extra_files, seed=seed))

    @classmethod
    def load(cls, name_or_path: str, extra_files: int = 0) -> DriveFixture:
        """`sample` or a YAML path, as the CLI takes them; `extra_files` adds a bulk folder."""
        from emulators.google_drive.samples import bulk_folder_spec

        if name_or_path == "sample":
            return cls.sample(extra_files=extra_files)
        with open(name_or_path, encoding="utf-8") as handle:
            spec = normalize_spec(yaml.safe_load(handle))
        if extra_files:
            spec["folders"] = [*spec.get("folders", ()), bulk_folder_spec(extra_files)]
        return cls(spec)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[DriveItem]:
        return iter(self._items.values())

    def get(self, file_id: str) -> DriveItem | None:
        return self._items.get(file_id)

    def item(self, file_id: str) -> DriveItem:
        return self._items[file_id]

    def find(self, path: str | Sequence[str]) -> DriveItem:
        """The item at a fixture path (`"photos/sub/a.jpg"`, or a list of names with slashes)."""
        return self._by_path[_as_path(path)]

    def id_of(self, path: str | Sequence[str]) -> str:
        return self.find(path).id

    def folder_id(self, path: str | Sequence[str]) -> str:
        item = self.find(path)
        if not item.is_folder:
            raise ValueError(f"{'/'.join(item.path)} is not a folder")
        return item.id

    def link(self, path: str | Sequence[str]) -> str:
        """The share link a user would paste for a folder, with its resource key if it has one."""
        item = self.find(path)
        url = f"https://drive.google.com/drive/folders/{item.id}"
        return f"{url}?resourcekey={item.resource_key}" if item.resource_key else url

    def children(self, folder_id: str) -> list[DriveItem]:
        return list(self._items[folder_id].children)

    def walk(self, folder_id: str) -> Iterator[DriveItem]:
        """Every item below a folder, depth first."""
        for child in self._items[folder_id].children:
            yield child
            if child.is_folder:
                yield from self.walk(child.id)

    def expected_images(
        self,
        root: str | Sequence[str],
        *,
        recursive: bool = True,
        follow_shortcuts: bool = False,
        include_trashed: bool = False,
        include_undownloadable: bool = False,
    ) -> list[ExpectedFile]:
        """Images an importer of the folder at `root` (a path or an id) should bring back.

        Shared-drive and resource-keyed items count (a client learns keys from listings).
        Trashed items and files Drive refuses to serve (abusive, download quota) are left out
        unless asked for. With `follow_shortcuts`, a shortcut to an image yields the target's
        id and bytes under the shortcut's name; dangling shortcuts are skipped.
        """
        root_item = self._items.get(root) if isinstance(root, str) else None
        if root_item is None:
            root_item = self.find(root)
        found: list[ExpectedFile] = []
        items = self.walk(root_item.id) if recursive else iter(root_item.children)
        base = len(root_item.path)
        for item in items:
            if item.trashed and not include_trashed:
                continue
            target, shortcut_id = item, None
            if item.is_shortcut:
                resolved = self._items.get(item.shortcut_target_id or "")
                if not follow_shortcuts or resolved is None or resolved.trashed:
                    continue
                target, shortcut_id = resolved, item.id
            if not target.is_image or not target.has_content:
                continue
            if (target.abusive or target.download_quota_exceeded) and not include_undownloadable:
                continue
            found.append(
                ExpectedFile(
                    id=target.id,
                    name=item.name,
                    mime_type=target.mime_type,
                    size=target.size or 0,
                    path="/".join(item.path[base:]),
                    parent_id=item.parent_id,
                    resource_key=target.resource_key,
                    shortcut_id=shortcut_id,
                    fixture=self,
                )
            )
        return found

    def iter_bytes(
        self,
        file_id: str,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> Iterator[bytes]:
        """The file's bytes `start..end` (end exclusive), exactly as the emulator serves them."""
        return self.content.chunks(self._items[file_id], start, end, chunk_size)

    def read_bytes(self, file_id: str) -> bytes:
        return self.content.read(self._items[file_id])

    def checksums(self, file_id: str) -> Checksums:
        return self.content.checksums(self._items[file_id])
