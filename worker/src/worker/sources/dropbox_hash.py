"""Dropbox's `content_hash`, registered as the checksum `dropbox_content_hash`."""

import hashlib

from worker.sources.checksums import register_hasher

DROPBOX_CONTENT_HASH = "dropbox_content_hash"


class DropboxContentHasher:
    """The SHA-256 of the concatenated SHA-256 digests of the content's 4 MiB blocks, as
    lowercase hex (an empty content has no blocks). Fed in chunks of any size, so a stream is
    hashed as it passes without holding a block in memory."""

    BLOCK_SIZE = 4 * 1024 * 1024

    def __init__(self) -> None:
        self._overall = hashlib.sha256()
        self._block = hashlib.sha256()
        self._filled = 0

    def update(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            take = min(len(view), self.BLOCK_SIZE - self._filled)
            self._block.update(view[:take])
            self._filled += take
            view = view[take:]
            if self._filled == self.BLOCK_SIZE:
                self._overall.update(self._block.digest())
                self._block = hashlib.sha256()
                self._filled = 0

    def hexdigest(self) -> str:
        overall = self._overall.copy()
        if self._filled:
            overall.update(self._block.digest())
        return overall.hexdigest()


register_hasher(DROPBOX_CONTENT_HASH, DropboxContentHasher)
