"""The records a source's folder listing is made of: plain data, shared by the connectors
that produce them, the registry's locators and the repositories that store them."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The checksum every stored object has (S3 checks uploads against it).
MD5 = "md5"
# Always computed as the bytes stream: what a content is known by (domain/contents/).
SHA256 = "sha256"
# Recorded for every object stored since archives (ZIP entries carry it), as 8 hex digits.
CRC32 = "crc32"


def crc32_hex(value: int) -> str:
    """A CRC-32 as it is recorded among an image's checksums."""
    return f"{value & 0xFFFFFFFF:08x}"


def normalized_checksums(checksums: Mapping[str, str | None]) -> dict[str, str]:
    """`checksums` without empty values, the hex lowercased, as they are stored and compared."""
    return {algorithm: value.lower() for algorithm, value in checksums.items() if value}


@dataclass(frozen=True)
class FolderRef:
    """A folder as the connector reaches it: its id, and the connector's own note of how (a
    Drive resource key, a path below a Dropbox link's root); never the import's link. `name`
    is its name at the source when the listing gives one (its album is called so); it is not
    part of the folder's identity."""

    folder_id: str
    resource_key: str | None = None
    name: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ImportLink:
    """The folder an import reads, as the API recorded it once, on the import: the source's
    typed locator (see the registry) and the link's password, if it has one."""

    locator: Any
    # Never in a log line, never in the API's answers.
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RequestedFolder:
    """A folder as a request for an import or a sync named it, recorded alike on both: the
    source, the link as given, the folder's id, the typed locator as JSON (see the registry),
    the link's password, and whether subfolders are read."""

    source: str
    source_url: str
    folder_id: str
    locator: dict[str, Any]
    # Never in a log line, never in the API's answers.
    link_password: str | None = field(repr=False)
    recursive: bool


@dataclass(frozen=True)
class SourceFile:
    """A file as the source describes it. `size` and `checksums` are what the bytes must match
    when the source knows them: `{algorithm: hex}`, each algorithm one with a hasher registered
    in `worker.sources.checksums` (`{"md5": ...}` for Drive, `{"dropbox_content_hash": ...}`
    for Dropbox). `resource_key` is the connector's own note of how to reach the file, kept
    with it between listing and transfer.

    `version` is the source's own opaque name for this state of the file (an ETag, a Dropbox
    `rev`), when it gives one: stored with the image as the source declared it and compared,
    with the size, on the next listing, so that a file whose bytes no listed checksum vouches
    for is still found unchanged. It is never a checksum: nothing checks the bytes against it."""

    file_id: str
    name: str
    mime_type: str
    size: int | None = None
    checksums: Mapping[str, str] = field(default_factory=dict)
    resource_key: str | None = None
    # Set by the connector when the source cannot give this file's bytes (e.g. a Google Doc).
    not_downloadable: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class FolderPage:
    files: list[SourceFile] = field(default_factory=list)
    folders: list[FolderRef] = field(default_factory=list)
    next_page_token: str | None = None
