"""files.list pagination: opaque page tokens and deliberately short pages.

Drive documents that "partial or empty result pages are possible even before the end", so a
client must keep paging while a `nextPageToken` is present. `ShortPages` makes the emulator do
that on purpose and deterministically: page n holds `pattern[n % len(pattern)] * pageSize` items.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from emulators.google_drive import errors

_TOKEN_PREFIX = "~!!~"  # real tokens start like this; it also checks clients URL-encode them
_PAYLOAD = struct.Struct(">QI")
_MAC_SIZE = 12


@dataclass(frozen=True)
class ShortPages:
    """Per-page fill ratios, cycled by page number; 0 gives an empty page that still has a token."""

    pattern: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.pattern:
            raise ValueError("short_pages needs at least one ratio")
        if any(not 0.0 <= ratio <= 1.0 for ratio in self.pattern):
            raise ValueError("short_pages ratios must be between 0 and 1")
        if not any(ratio > 0 for ratio in self.pattern):
            raise ValueError("short_pages needs one ratio above 0, or paging never ends")

    @classmethod
    def parse(cls, value: Any) -> ShortPages | None:
        """Accept `[1, 0.5, 0]`, `"1,0.5,0"`, `{"pattern": [...]}`, a ShortPages, or None."""
        if value is None or isinstance(value, ShortPages):
            return value
        if isinstance(value, dict):
            value = value.get("pattern")
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, Sequence):
            raise ValueError(f"cannot read short_pages from {value!r}")
        return cls(tuple(float(ratio) for ratio in value))

    def limit(self, page_size: int, page_number: int) -> int:
        ratio = self.pattern[page_number % len(self.pattern)]
        if ratio == 0:
            return 0
        return max(1, math.floor(page_size * ratio))

    def to_json(self) -> list[float]:
        return list(self.pattern)


class PageTokens:
    """Issues and checks page tokens bound to one query, so a forged or foreign token is a 400."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, payload: bytes, query_key: str) -> bytes:
        message = payload + query_key.encode("utf-8", "surrogatepass")
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_MAC_SIZE]

    def issue(self, query_key: str, offset: int, page_number: int) -> str:
        payload = _PAYLOAD.pack(offset, page_number)
        raw = payload + self._mac(payload, query_key)
        return _TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def read(self, token: str, query_key: str) -> tuple[int, int]:
        """Return (offset, page number) or raise 400 invalid on `pageToken`."""
        if not token.startswith(_TOKEN_PREFIX):
            raise errors.invalid_value("pageToken")
        body = token[len(_TOKEN_PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise errors.invalid_value("pageToken") from None
        if len(raw) != _PAYLOAD.size + _MAC_SIZE:
            raise errors.invalid_value("pageToken")
        payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        if not hmac.compare_digest(mac, self._mac(payload, query_key)):
            raise errors.invalid_value("pageToken")
        offset, page_number = _PAYLOAD.unpack(payload)
        return offset, page_number
