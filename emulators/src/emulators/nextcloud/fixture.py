"""The fixture: public shares of a Nextcloud (or ownCloud, or oCIS) server described as data.

The spec grammar is the Dropbox emulator's, restricted to what a share has, plus its own keys:

    seed: 7
    shares:                        # each root is one folder shared by a public link
      - name: photos
        password: hunter2          # the share needs this password
        files:
          - name_pattern: "IMG_{i:05d}.jpg"
            count: 1000
            size: [1000, 50000]    # int, [min, max] (seeded per file), or "5MB"
            mime_type: image/jpeg  # the listed type (default: from the name, as the server does)
            content_magic: none    # as in the Drive fixture
            checksums: [SHA1, MD5] # what the server stored at upload (default: none)
            picture: true          # a real image instead of synthetic bytes, as in the
                                   # Drive fixture (see emulators.common.pictures)
        folders: [...]

Tokens are 15 letters and digits hashed from the seed and the share's name, file ids numbers
hashed from the item's path (Nextcloud's and ownCloud's `oc:fileid`; oCIS's look otherwise and
are made so when served), so both stay the same in a changed fixture,
ETags hashes of the file's id, of what its bytes are made of (so new content gets a new ETag,
as on a server) and of the fixture's `generation` (bump it to "change" every file).
Names may not contain `/`; a folder's children are listed in name order, as Nextcloud does.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulators.common.fixture_spec import check_keys, checked_name, file_names, fill_file_content
from emulators.common.fixture_spec import digest as _digest
from emulators.google_drive.content import DEFAULT_CHUNK_SIZE, ContentGenerator

# How a refused name is refused: "<name> is not a name " + this.
_ALLOWED_BY = "a share may hold"
CHECKSUM_KINDS = ("MD5", "SHA1", "SHA256")
_FILE_KEYS = {"name", "name_pattern", "count", "start", "size", "mime_type", "content_magic"}
_FILE_KEYS |= {"checksums", "picture"}
_FOLDER_KEYS = {"name", "files", "folders"}
_ROOT_KEYS = _FOLDER_KEYS | {"password", "token"}
_ALNUM = string.ascii_letters + string.digits


@dataclass(slots=True, eq=False)
class ShareItem:
    """One file or folder as the server serves it. The attribute names the shared content
    generator reads (`id`, `size`, `mime_type`, `content_magic`, `width`, `height`, `body`)
    match the other emulators' items, so all make bytes the same way."""

    id: str
    file_id: int
    name: str
    is_folder: bool
    # Names from the share's root down to this item; the root's path is ().
    path: tuple[str, ...]
    size: int = 0
    mime_type: str = "httpd/unix-directory"
    content_magic: str | None = None
    width: int = 0
    height: int = 0
    checksum_kinds: tuple[str, ...] = ()
    modified: int = 0
    # A real image's bytes (see emulators.common.pictures); None: synthetic bytes.
    body: bytes | None = None
    children: list[ShareItem] = field(default_factory=list)

    @property
    def relative_path(self) -> str:
        return "".join(f"/{name}" for name in self.path) or "/"

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")


@dataclass
class Share:
    """A shared folder, its token and password, and its items by path."""

    name: str
    token: str
    password: str | None
    root: ShareItem
    items_by_path: dict[str, ShareItem] = field(default_factory=dict)

    def find(self, relative_path: str) -> ShareItem | None:
        key = "/" + "/".join(part for part in relative_path.split("/") if part)
        return self.items_by_path.get(key)

    def walk(self, folder: ShareItem | None = None) -> Iterator[ShareItem]:
        for child in (folder or self.root).children:
            yield child
            if child.is_folder:
                yield from self.walk(child)


class NextcloudFixture:
    """The whole emulated server: its shares, their items, every file's bytes and checksums."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        if not isinstance(spec, Mapping):
            raise ValueError("a fixture spec is a mapping")
        unknown = set(spec) - {"seed", "shares"}
        if unknown:
            raise ValueError(f"unknown fixture keys: {sorted(unknown)}")
        self.seed = int(spec.get("seed", 0))
        self.content = ContentGenerator(self.seed)
        # Bumped to give every file a new ETag, as a server does when content changes.
        self.generation = 0
        self.shares: list[Share] = [self._share(share) for share in spec.get("shares", ())]
        names = [share.name for share in self.shares]
        if len(set(names)) != len(names):
            raise ValueError("share names must be unique")
        self._by_token = {share.token: share for share in self.shares}

    # -- lookups

    def share(self, name: str) -> Share:
        for share in self.shares:
            if share.name == name:
                return share
        raise KeyError(name)

    def by_token(self, token: str) -> Share | None:
        return self._by_token.get(token)

    def link(self, name: str, base_url: str) -> str:
        """The link the share dialog gives, on the server at `base_url`."""
        return f"{base_url.rstrip('/')}/s/{self.share(name).token}"

    def etag(self, item: ShareItem) -> str:
        # What the bytes are made of is in it: a server gives a file a new ETag with new content.
        made_of = f"{item.id}:{item.size}:{item.mime_type}:{item.content_magic}:{self.generation}"
        return hashlib.md5(made_of.encode()).hexdigest()[:13]

    def checksum(self, item: ShareItem, kind: str) -> str:
        return self.content.checksum(item, kind.lower())  # type: ignore[arg-type]

    def md5(self, item: ShareItem) -> str:
        return self.checksum(item, "MD5")

    def iter_bytes(
        self, item: ShareItem, start: int = 0, end: int | None = None, chunk_size: int = 0
    ) -> Iterator[bytes]:
        return self.content.chunks(item, start, end, chunk_size or DEFAULT_CHUNK_SIZE)  # type: ignore[arg-type]

    def read_bytes(self, item: ShareItem) -> bytes:
        return b"".join(self.iter_bytes(item))

    def expected_images(self, name: str, *, recursive: bool = True) -> list[ShareItem]:
        """The images an importer of the share should bring back (by name, as a server types
        them)."""
        share = self.share(name)
        items = share.walk() if recursive else iter(share.root.children)
        return [item for item in items if not item.is_folder and item.is_image]

    # -- building

    def _share(self, spec: Mapping[str, Any]) -> Share:
        check_keys(spec, _ROOT_KEYS, "share")
        name = checked_name(spec["name"], _ALLOWED_BY)
        token = str(spec.get("token") or _token(_digest("token", self.seed, name)))
        root = self._item(name, (), True, name)
        share = Share(name, token, _password(spec.get("password")), root)
        share.items_by_path["/"] = root
        self._fill(share, root, spec)
        return share

    def _fill(self, share: Share, folder: ShareItem, spec: Mapping[str, Any]) -> None:
        for file_spec in spec.get("files", ()):
            check_keys(file_spec, _FILE_KEYS, "file")
            for index, name in enumerate(file_names(file_spec, _ALLOWED_BY)):
                file = self._file(share, (*folder.path, name), file_spec, index)
                self._add(share, folder, file)
        for folder_spec in spec.get("folders", ()):
            check_keys(folder_spec, _FOLDER_KEYS, "folder")
            name = checked_name(folder_spec["name"], _ALLOWED_BY)
            child = self._item(name, (*folder.path, name), True, share.name)
            self._add(share, folder, child)
            self._fill(share, child, folder_spec)
        folder.children.sort(key=lambda item: item.name)

    def _add(self, share: Share, parent: ShareItem, child: ShareItem) -> None:
        key = child.relative_path
        if key in share.items_by_path:
            raise ValueError(f"two items at {key!r} in share {share.name!r}")
        share.items_by_path[key] = child
        parent.children.append(child)

    def _item(self, name: str, path: tuple[str, ...], is_folder: bool, share: str) -> ShareItem:
        digest = _digest("item", self.seed, share, *path)
        return ShareItem(
            id="nc" + digest[:10].hex(),
            # From the path, so that a fixture changed between runs keeps each file's id, as a
            # server does.
            file_id=100 + int.from_bytes(digest[14:19], "big"),
            name=name,
            is_folder=is_folder,
            path=path,
            modified=1_600_000_000 + int.from_bytes(digest[10:14], "big") % 100_000_000,
        )

    def _file(
        self, share: Share, path: tuple[str, ...], spec: Mapping[str, Any], index: int = 0
    ) -> ShareItem:
        item = self._item(path[-1], path, False, share.name)
        fill_file_content(item, spec, self.seed, index)
        kinds = tuple(str(kind).upper() for kind in spec.get("checksums", ()))
        if not set(kinds) <= set(CHECKSUM_KINDS):
            raise ValueError(f"checksums are some of {CHECKSUM_KINDS}, not {kinds}")
        item.checksum_kinds = kinds
        return item


def _token(digest: bytes) -> str:
    return "".join(_ALNUM[byte % len(_ALNUM)] for byte in digest[:15])


def _password(value: Any) -> str | None:
    return None if value is None else str(value)
