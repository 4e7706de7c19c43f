"""Checksums by algorithm name: what a source declares of a file (`SourceFile.checksums`, as
`{algorithm: lowercase hex}`), and the hashers that check the bytes against it as they stream.

A source with a hash of its own registers its hasher here under the name its connector uses
(Dropbox's block hash: `worker.sources.dropbox_hash`); the transfer, the catalogue and the
"unchanged" test on a re-import then handle it like any other, with no change of their own.
"""

import hashlib
from collections.abc import Callable
from typing import Protocol

from domain.sources.records import MD5


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


_HASHERS: dict[str, Callable[[], Hasher]] = {
    MD5: lambda: hashlib.md5(usedforsecurity=False),
    "sha1": lambda: hashlib.sha1(usedforsecurity=False),
    "sha256": hashlib.sha256,
}


def register_hasher(algorithm: str, factory: Callable[[], Hasher]) -> None:
    """Make `algorithm` checkable; registering a name twice with another hasher is a bug."""
    known = _HASHERS.setdefault(algorithm, factory)
    if known is not factory:
        raise ValueError(f"a hasher is registered for {algorithm!r} already")


def new_hasher(algorithm: str) -> Hasher:
    try:
        factory = _HASHERS[algorithm]
    except KeyError:
        raise LookupError(f"no hasher is registered for the checksum {algorithm!r}") from None
    return factory()
