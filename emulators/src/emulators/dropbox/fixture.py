"""The fixture: shared Dropbox folders described as data, expanded into items with stable ids.

The spec grammar is the Drive emulator's (see `emulators.google_drive.fixture`), restricted to
what Dropbox has, plus the keys only Dropbox has:

    seed: 7
    folders:                       # each root is one shared folder, reached by its own link
      - name: photos
        link: scl                  # "scl" (default): /scl/fo/<id>/<key>?rlkey=…
                                   # "sh": the legacy /sh/<id>/<hash>
        password: hunter2          # the link needs this password
        short_pages: [1, 0.5, 0]   # list_folder pages of this folder are short/empty
        files:
          - name_pattern: "IMG_{i:05d}.jpg"
            count: 1000
            start: 1
            size: [1000, 50000]    # int, [min, max] (seeded per file), or "5MB"
            mime_type: image/jpeg  # only decides the magic header of the bytes (Dropbox has none)
            content_magic: none    # as in the Drive fixture
            is_downloadable: false # a cloud document: listed, with export_info, but no bytes
            picture: {orientation: 6}  # a real image instead of synthetic bytes, as in the
                                   # Drive fixture (see emulators.common.pictures)
        folders: [...]

Ids are `id:` + 22 characters, hashed from the seed and the item's path, so they are stable
across runs. Names may not contain `/` (Dropbox forbids it) and are unique per folder ignoring
case (Dropbox paths are case-insensitive).
"""

from __future__ import annotations

import base64
import hashlib
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from emulators.common.fixture_spec import check_keys, checked_name, file_names, fill_file_content
from emulators.common.fixture_spec import digest as _digest
from emulators.google_drive.content import DEFAULT_CHUNK_SIZE, ContentGenerator
from emulators.google_drive.paging import ShortPages

# Dropbox's content_hash: SHA-256 over 4 MiB blocks (reference notes B7).
HASH_BLOCK_SIZE = 4 * 1024 * 1024
LINK_FORMS = ("scl", "sh")
# How a refused name is refused: "<name> is not a name " + this.
_ALLOWED_BY = "Dropbox allows"
WEB_HOSTS = frozenset({"www.dropbox.com", "dropbox.com"})

_EPOCH = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())
_DAY = 86_400
_FILE_KEYS = {
    "name",
    "name_pattern",
    "count",
    "start",
    "size",
    "mime_type",
    "content_magic",
    "is_downloadable",
    "client_modified",
    "server_modified",
    "picture",
}
_FOLDER_KEYS = {"name", "files", "folders", "short_pages"}
_ROOT_KEYS = _FOLDER_KEYS | {"link", "password"}
_LOWER = string.ascii_lowercase + string.digits


def content_hash(chunks: Iterator[bytes] | Sequence[bytes]) -> str:
    """Dropbox's content_hash of a byte stream: SHA-256 of the concatenated SHA-256 digests of
    its 4 MiB blocks (an empty stream has no blocks: the SHA-256 of nothing)."""
    overall = hashlib.sha256()
    block = hashlib.sha256()
    filled = 0
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            take = min(len(view), HASH_BLOCK_SIZE - filled)
            block.update(view[:take])
            filled += take
            view = view[take:]
            if filled == HASH_BLOCK_SIZE:
                overall.update(block.digest())
                block = hashlib.sha256()
                filled = 0
    if filled:
        overall.update(block.digest())
    return overall.hexdigest()


def format_time(epoch_seconds: int) -> str:
    """`%Y-%m-%dT%H:%M:%SZ`, as Dropbox writes timestamps (seconds, no fraction)."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> int:
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _lower_alnum(data: bytes, length: int) -> str:
    return "".join(_LOWER[byte % len(_LOWER)] for byte in data[:length])


@dataclass(frozen=True)
class SharedLink:
    """How one shared folder is reached: the link's form, its parts, and an optional password."""

    form: str
    link_id: str
    key: str
    rlkey: str | None
    password: str | None

    @property
    def path(self) -> str:
        if self.form == "sh":
            return f"/sh/{self.link_id}/{self.key}"
        return f"/scl/fo/{self.link_id}/{self.key}"

    def url(self, **params: str) -> str:
        """The link as Dropbox's share dialog gives it (`dl=0`), with any extra parameters."""
        query: dict[str, str] = {"rlkey": self.rlkey} if self.rlkey else {}
        query |= {"dl": "0", **params}
        return f"https://www.dropbox.com{self.path}?{urlencode(query)}"

    def matches(self, url: str) -> bool:
        """Whether a pasted or API-passed URL names this link: same host family, same path,
        and (for `scl` links) the same rlkey. `dl`, `st`, `e` and the like do not matter."""
        parts = urlsplit(url.strip())
        if (parts.hostname or "").lower() not in WEB_HOSTS:
            return False
        if parts.path.rstrip("/") != self.path:
            return False
        if self.rlkey is None:
            return True
        return parse_qs(parts.query).get("rlkey", [None])[0] == self.rlkey


@dataclass(slots=True, eq=False)
class DropboxItem:
    """One file or folder as the emulator serves it. The attribute names the shared content
    generator reads (`id`, `size`, `mime_type`, `content_magic`, `width`, `height`, `body`)
    match the Drive emulator's items, so both emulators make bytes the same way."""

    id: str
    name: str
    is_folder: bool
    # Names from the root folder of the link down to this item; the root's path is ().
    path: tuple[str, ...]
    size: int | None = None
    mime_type: str = "application/octet-stream"
    content_magic: str | None = None
    width: int = 0
    height: int = 0
    is_downloadable: bool = True
    client_modified: int = 0
    server_modified: int = 0
    rev: str = ""
    # A real image's bytes (see emulators.common.pictures); None: synthetic bytes.
    body: bytes | None = None
    short_pages: ShortPages | None = None
    children: list[DropboxItem] = field(default_factory=list)

    @property
    def relative_path(self) -> str:
        """The path below the link's root, as API arguments name it: `""` for the root."""
        return "".join(f"/{name}" for name in self.path)

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")


@dataclass
class SharedFolder:
    """A root folder and the link that shares it."""

    item: DropboxItem
    link: SharedLink
    items_by_path: dict[str, DropboxItem] = field(default_factory=dict)

    def find(self, relative_path: str) -> DropboxItem | None:
        """The item at a path below the root (`""` or `"/"` is the root), ignoring case."""
        key = relative_path.rstrip("/").lower()
        return self.items_by_path.get(key)

    def walk(self, folder: DropboxItem | None = None) -> Iterator[DropboxItem]:
        """Every item below `folder` (default the root), depth first, folders before files."""
        for child in (folder or self.item).children:
            yield child
            if child.is_folder:
                yield from self.walk(child)


@dataclass(frozen=True)
class ExpectedFile:
    """A file an importer of a shared folder should end up with, and its true bytes."""

    id: str
    name: str
    path: str  # below the link's root, e.g. "/sub/IMG_001.jpg"
    mime_type: str
    size: int
    fixture: DropboxFixture = field(repr=False, compare=False)

    @property
    def md5(self) -> str:
        return self.fixture.md5(self.id)

    @property
    def content_hash(self) -> str:
        return self.fixture.content_hash(self.id)

    def read(self) -> bytes:
        return self.fixture.read_bytes(self.id)


class _Builder:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.items: dict[str, DropboxItem] = {}
        self._root = ""

    def root(self, spec: Mapping[str, Any]) -> SharedFolder:
        check_keys(spec, _ROOT_KEYS, "shared folder")
        name = checked_name(spec["name"], _ALLOWED_BY)
        form = str(spec.get("link", "scl"))
        if form not in LINK_FORMS:
            raise ValueError(f"link must be one of {LINK_FORMS}, not {form!r}")
        self._root = name
        digest = _digest("link", self.seed, name)
        if form == "sh":
            key = "AA" + _b64(_digest("sh-key", self.seed, name))[:24]
            link = SharedLink("sh", _lower_alnum(digest, 15), key, None, None)
        else:
            link = SharedLink(
                "scl",
                _lower_alnum(digest, 21),
                "A" + _b64(digest[8:])[:22],
                _lower_alnum(_digest("rlkey", self.seed, name), 25),
                None,
            )
        if spec.get("password") is not None:
            link = SharedLink(link.form, link.link_id, link.key, link.rlkey, str(spec["password"]))
        item = self._item(name, (), True, spec)
        shared = SharedFolder(item, link)
        shared.items_by_path[""] = item
        self._fill(shared, item, spec)
        return shared

    def _fill(self, shared: SharedFolder, folder: DropboxItem, spec: Mapping[str, Any]) -> None:
        folder.short_pages = ShortPages.parse(spec.get("short_pages"))
        for file_spec in spec.get("files", ()):
            check_keys(file_spec, _FILE_KEYS, "file")
            for index, name in enumerate(file_names(file_spec, _ALLOWED_BY)):
                file = self._file(name, (*folder.path, name), file_spec, index)
                self._add(shared, folder, file)
        for folder_spec in spec.get("folders", ()):
            check_keys(folder_spec, _FOLDER_KEYS, "folder")
            name = checked_name(folder_spec["name"], _ALLOWED_BY)
            child = self._item(name, (*folder.path, name), True, folder_spec)
            self._add(shared, folder, child)
            self._fill(shared, child, folder_spec)

    def _add(self, shared: SharedFolder, parent: DropboxItem, child: DropboxItem) -> None:
        key = child.relative_path.lower()
        if key in shared.items_by_path:
            raise ValueError(f"two items at {child.relative_path!r} (Dropbox ignores case)")
        shared.items_by_path[key] = child
        parent.children.append(child)

    def _item(
        self, name: str, path: tuple[str, ...], is_folder: bool, spec: Mapping[str, Any]
    ) -> DropboxItem:
        identity = "\x1f".join((self._root, *path))
        digest = _digest("item", self.seed, identity.lower())
        item_id = "id:" + _b64(digest)[:22]
        if item_id in self.items:
            # Ids come from the path ignoring case, as Dropbox tells paths apart.
            raise ValueError(f"two items at {'/'.join(path)!r} (Dropbox ignores case)")
        numbers = int.from_bytes(digest[16:24], "big")
        modified = _EPOCH + numbers % (3 * 365 * _DAY)
        item = DropboxItem(
            id=item_id,
            name=name,
            is_folder=is_folder,
            path=path,
            client_modified=modified - numbers % _DAY,
            server_modified=modified,
            rev=digest[24:32].hex()[:12],
        )
        self.items[item_id] = item
        return item

    def _file(
        self, name: str, path: tuple[str, ...], spec: Mapping[str, Any], index: int = 0
    ) -> DropboxItem:
        item = self._item(name, path, False, spec)
        fill_file_content(item, spec, self.seed, index)
        # What the bytes are made of is in the rev: new content is a new revision, as on Dropbox.
        made_of = _digest(
            "rev", self.seed, item.id, item.size, item.mime_type, item.content_magic,
            str(spec.get("picture", "")),
        )  # fmt: skip
        item.rev = made_of.hex()[:12]
        item.is_downloadable = bool(spec.get("is_downloadable", True))
        if "client_modified" in spec:
            item.client_modified = _parse_time(spec["client_modified"])
        if "server_modified" in spec:
            item.server_modified = _parse_time(spec["server_modified"])
        return item


class DropboxFixture:
    """A whole emulated Dropbox: the shared folders, their items by id, and every file's bytes."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        if not isinstance(spec, Mapping):
            raise ValueError("a fixture spec is a mapping")
        document = dict(spec)
        if "name" in document:  # a single shared folder
            seed = document.pop("seed", 0)
            document = {"seed": seed, "folders": [document]}
        unknown = set(document) - {"seed", "folders"}
        if unknown:
            raise ValueError(f"unknown fixture keys: {sorted(unknown)}")
        self.seed = int(document.get("seed", 0))
        builder = _Builder(self.seed)
        self.shared: list[SharedFolder] = [builder.root(f) for f in document.get("folders", ())]
        names = [shared.item.name for shared in self.shared]
        if len(set(names)) != len(names):
            raise ValueError("shared folder names must be unique")
        self._items = builder.items
        self._owner: dict[str, SharedFolder] = {}
        for shared in self.shared:
            self._owner[shared.item.id] = shared
            for item in shared.walk():
                self._owner[item.id] = shared
        self.content = ContentGenerator(self.seed)
        self._hashes: dict[tuple[str, str], str] = {}

    def __len__(self) -> int:
        return len(self._items)

    def get(self, item_id: str) -> DropboxItem | None:
        return self._items.get(item_id)

    def item(self, item_id: str) -> DropboxItem:
        return self._items[item_id]

    def shared_folder(self, name: str) -> SharedFolder:
        for shared in self.shared:
            if shared.item.name == name:
                return shared
        raise KeyError(name)

    def find(self, root: str, relative_path: str = "") -> DropboxItem:
        item = self.shared_folder(root).find(relative_path)
        if item is None:
            raise KeyError(f"{root}{relative_path}")
        return item

    def link(self, root: str, **params: str) -> str:
        """The link a user would paste for the shared folder named `root`."""
        return self.shared_folder(root).link.url(**params)

    def resolve_link(self, url: str) -> SharedFolder | None:
        for shared in self.shared:
            if shared.link.matches(url):
                return shared
        return None

    def owner(self, item: DropboxItem) -> SharedFolder:
        return self._owner[item.id]

    def expected_images(
        self, root: str, relative_path: str = "", *, recursive: bool = True
    ) -> list[ExpectedFile]:
        """The images an importer of the shared folder `root` should bring back: every
        downloadable file whose name says it is an image, below `relative_path`."""
        shared = self.shared_folder(root)
        start = shared.find(relative_path)
        if start is None or not start.is_folder:
            raise KeyError(f"{root}{relative_path} is not a folder")
        items = shared.walk(start) if recursive else iter(start.children)
        return [
            ExpectedFile(
                id=item.id,
                name=item.name,
                path=item.relative_path,
                mime_type=item.mime_type,
                size=item.size or 0,
                fixture=self,
            )
            for item in items
            if not item.is_folder and item.is_image and item.is_downloadable
        ]

    def iter_bytes(
        self,
        item_id: str,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> Iterator[bytes]:
        return self.content.chunks(self._items[item_id], start, end, chunk_size)  # type: ignore[arg-type]

    def read_bytes(self, item_id: str) -> bytes:
        return b"".join(self.iter_bytes(item_id))

    def content_hash(self, item_id: str) -> str:
        """Dropbox's content_hash of the file, computed once and cached."""
        return self._hash(item_id, "content_hash")

    def md5(self, item_id: str) -> str:
        return self._hash(item_id, "md5")

    def _hash(self, item_id: str, kind: str) -> str:
        key = (item_id, kind)
        cached = self._hashes.get(key)
        if cached is None:
            chunks = self.iter_bytes(item_id)
            if kind == "md5":
                hasher = hashlib.md5()
                for chunk in chunks:
                    hasher.update(chunk)
                cached = hasher.hexdigest()
            else:
                cached = content_hash(chunks)
            self._hashes[key] = cached
        return cached
