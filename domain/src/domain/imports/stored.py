"""A file's bytes as the object store holds them, recorded on its image."""

from dataclasses import dataclass

from domain.sources.records import MD5


@dataclass(frozen=True)
class StoredObject:
    key: str
    storage_path: str
    size: int
    content_type: str
    # The bytes' checksums by algorithm: always MD5, and every one the source declared (and so
    # that was checked).
    checksums: dict[str, str]

    @property
    def md5_checksum(self) -> str:
        return self.checksums[MD5]
