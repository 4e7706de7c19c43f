"""What the worker checks of an upload's bytes as they pass, and the blocking file object boto3's
transfer manager reads them through."""

import asyncio
import hashlib
import io
import zlib
from collections.abc import AsyncIterator, Mapping

from domain.sources.records import CRC32, MD5, SHA256, crc32_hex, normalized_checksums
from worker.sources.base import TransientSourceError
from worker.sources.checksums import new_hasher


class ByteTally:
    """Counts and hashes bytes as they pass, and checks them against what the source announced:
    its size and every checksum it declared. MD5 is always computed (S3 checks the upload
    against it), SHA-256 (what the content is stored under, domain/contents/) and CRC-32 (a
    ZIP archive's entries carry it: with it recorded, an archive's central directory is known
    before any byte is read, so a download can resume in the middle; zlib's costs a few percent
    of MD5's); another algorithm costs a pass of its own, so it is computed only when the
    source declared it."""

    def __init__(self, expected_size: int | None, expected_checksums: Mapping[str, str]) -> None:
        self._expected_size = expected_size
        self._expected = normalized_checksums(expected_checksums)
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()
        self.crc32 = 0
        self._others = {
            algorithm: new_hasher(algorithm)
            for algorithm in self._expected
            if algorithm not in (MD5, SHA256, CRC32)
        }

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._expected_size is not None and self.size > self._expected_size:
            raise TransientSourceError(
                f"received more than the {self._expected_size} bytes the source announced"
            )
        self.md5.update(chunk)
        self.sha256.update(chunk)
        self.crc32 = zlib.crc32(chunk, self.crc32)
        for hasher in self._others.values():
            hasher.update(chunk)

    def checksums(self) -> dict[str, str]:
        """What was received, by algorithm: MD5, SHA-256, CRC-32, and each algorithm the
        source declared."""
        found = {
            MD5: self.md5.hexdigest(),
            SHA256: self.sha256.hexdigest(),
            CRC32: crc32_hex(self.crc32),
        }
        found.update((algorithm, h.hexdigest()) for algorithm, h in self._others.items())
        return found

    def verify(self) -> None:
        if self._expected_size is not None and self.size != self._expected_size:
            raise TransientSourceError(
                f"received {self.size} bytes but the source announced {self._expected_size}"
            )
        received = self.checksums()
        for algorithm, expected in self._expected.items():
            if received[algorithm] != expected:
                raise TransientSourceError(
                    f"{algorithm} of the received bytes {received[algorithm]} differs from the "
                    f"source's {expected}"
                )


class BlockingReader(io.RawIOBase):
    """A blocking file object over an async byte stream, for boto3 running on another thread.
    It refuses to reach end-of-file unless the tally of the bytes checks out."""

    def __init__(
        self, chunks: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop, tally: ByteTally
    ) -> None:
        self._chunks = chunks
        self._loop = loop
        self._tally = tally
        self._buffer = bytearray()
        self._eof = False
        self.failure: Exception | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._read(size)
        except Exception as exc:
            self.failure = exc
            raise

    def _read(self, size: int) -> bytes:
        while not self._eof and (size < 0 or len(self._buffer) < size):
            chunk = asyncio.run_coroutine_threadsafe(self._next_chunk(), self._loop).result()
            if chunk is None:
                self._eof = True
                self._tally.verify()
            else:
                self._tally.add(chunk)
                self._buffer.extend(chunk)
        end = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        data = bytes(self._buffer[:end])
        del self._buffer[:end]
        return data

    async def _next_chunk(self) -> bytes | None:
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            return None
