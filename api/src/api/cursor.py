"""Opaque keyset cursors: the sort key of the last row a page returned, passed back unchanged
to get the rows after it."""

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from api.errors import InvalidInput

Row = TypeVar("Row")


def next_page(
    rows: Sequence[Row], limit: int, cursor_of: Callable[[Row], str]
) -> tuple[list[Row], str | None]:
    """A page of a keyset-paginated list, from rows fetched with `limit + 1`: one extra row
    tells whether another page exists without a COUNT. The first `limit` rows, and the cursor
    of the last of them when more follow (None on the last page)."""
    page = list(rows[:limit])
    has_more = len(rows) > limit and page
    return page, cursor_of(page[-1]) if has_more else None


def created_cursor(row: Mapping[str, Any]) -> str:
    """The cursor after a row of a list ordered newest first on (created_at, id)."""
    return encode_cursor(row["created_at"], str(row["id"]))


def encode_cursor(created_at: datetime, row_id: str) -> str:
    """For lists ordered newest first on (created_at, id)."""
    return _encode([created_at.isoformat(), row_id])


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created_at, row_id = _decode(cursor)
        return datetime.fromisoformat(created_at), str(uuid.UUID(row_id))
    except (ValueError, TypeError):
        raise _invalid() from None


def encode_text_cursor(key: str) -> str:
    """For lists ordered on one text key (a source file id)."""
    return _encode([key])


def decode_text_cursor(cursor: str) -> str:
    try:
        (key,) = _decode(cursor)
    except (ValueError, TypeError):
        raise _invalid() from None
    # No cursor of ours holds a NUL (PostgreSQL text cannot): a forged one gets no further.
    if "\x00" in key:
        raise _invalid()
    return key


def encode_key_cursor(key: str, row_id: str) -> str:
    """For lists ordered on (a text key, id) ascending: an album's path, an image's name."""
    return _encode([key, row_id])


def decode_key_cursor(cursor: str) -> tuple[str, str]:
    try:
        key, row_id = _decode(cursor)
        parsed_id = str(uuid.UUID(row_id))
    except (ValueError, TypeError):
        raise _invalid() from None
    if "\x00" in key:
        raise _invalid()
    return key, parsed_id


def _encode(values: list[str]) -> str:
    raw = json.dumps(values).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> list[str]:
    # Only the shape `_encode` writes, a list of strings: a forged object or number would
    # otherwise unpack (a dict's keys) into a sort key of the right arity.
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise _invalid() from None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _invalid()
    return values


def _invalid() -> InvalidInput:
    return InvalidInput("cursor is not valid: pass back next_cursor unchanged", field="cursor")
