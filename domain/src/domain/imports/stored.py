"""A file's bytes as the object store holds them, recorded on its image."""

from dataclasses import dataclass

from domain.sources.records import MD5, SHA256


@dataclass(frozen=True)
class StoredObject:
    key: str
    storage_path: str
    size: int
    content_type: str
    # The bytes' checksums by algorithm: always MD5, and every one the source declared (and so
    # that was checked).
    checksums: dict[str, str]
    # True when the store held these bytes already (another file's): nothing was stored for
    # this file, and the image points at the content that was.
    reused: bool = False

    @property
    def md5_checksum(self) -> str:
        return self.checksums[MD5]

    @property
    def sha256(self) -> str:
        """What the content is known by (domain/contents/repository.py)."""
        return self.checksums[SHA256]
