"""The `fields` system parameter: parse a FieldMask, validate it, and apply it to a response.

Syntax as Google accepts it: comma-separated selections, `a/b` for a sub-field, `a(b,c)` for
several sub-fields, `*` for every field at that level, spaces ignored. A selection without
sub-fields returns the whole sub-object.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from emulators.google_drive import errors
from emulators.google_drive.schema import FILE, FILE_LIST, OPEN, Schema

# None means "the whole value"; a nested mask selects inside it.
FieldMask = dict[str, "FieldMask | None"]

ALL = "*"
_TOKEN = re.compile(r"\s*([A-Za-z0-9_.@-]+|\*|[(),/])")

DEFAULT_FILE_FIELDS: FieldMask = dict.fromkeys(("kind", "id", "name", "mimeType", "resourceKey"))
DEFAULT_LIST_FIELDS: FieldMask = {
    "kind": None,
    "nextPageToken": None,
    "incompleteSearch": None,
    "files": DEFAULT_FILE_FIELDS,
}


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise errors.invalid_field_selection(text[pos:].strip())
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _merge(mask: FieldMask, name: str, sub: FieldMask | None) -> None:
    if name not in mask:
        mask[name] = sub
        return
    current = mask[name]
    if current is None or sub is None:
        mask[name] = None  # asking for the whole value anywhere wins
        return
    for key, value in sub.items():
        _merge(current, key, value)


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise errors.invalid_field_selection("")
        self.pos += 1
        return token

    def mask(self) -> FieldMask:
        result: FieldMask = {}
        while True:
            name, sub = self.selection()
            _merge(result, name, sub)
            if self.peek() != ",":
                return result
            self.take()

    def selection(self) -> tuple[str, FieldMask | None]:
        name = self.take()
        if name in "(),/":
            raise errors.invalid_field_selection(name)
        sub: FieldMask | None = None
        nxt = self.peek()
        if nxt == "/":
            self.take()
            inner_name, inner_sub = self.selection()
            sub = {inner_name: inner_sub}
        elif nxt == "(":
            self.take()
            sub = self.mask()
            if self.take() != ")":
                raise errors.invalid_field_selection(name)
        if name == ALL and sub is not None:
            raise errors.invalid_field_selection(name)
        return name, sub


def _validate(mask: FieldMask, schema: Schema) -> None:
    for name, sub in mask.items():
        if name == ALL:
            continue
        if name not in schema:
            raise errors.invalid_field_selection(name)
        node = schema[name]
        if sub is None or node is OPEN:
            continue
        if node is None or not isinstance(node, dict):
            raise errors.invalid_field_selection(f"{name}/{next(iter(sub))}")
        _validate(sub, node)


@functools.lru_cache(maxsize=512)
def _parse(text: str, for_list: bool) -> FieldMask:
    parser = _Parser(_tokenize(text))
    mask = parser.mask()
    if parser.peek() is not None:
        raise errors.invalid_field_selection(parser.peek() or "")
    _validate(mask, FILE_LIST if for_list else FILE)
    return mask


def parse_list_fields(text: str | None) -> FieldMask:
    """The mask for a files.list response; the result is shared, so never mutate it."""
    if text is None or not text.strip():
        return DEFAULT_LIST_FIELDS
    return _parse(text, True)


def parse_file_fields(text: str | None) -> FieldMask:
    """The mask for a files.get response; the result is shared, so never mutate it."""
    if text is None or not text.strip():
        return DEFAULT_FILE_FIELDS
    return _parse(text, False)


def wants_all(mask: FieldMask | None) -> bool:
    return mask is None or ALL in mask


def project(value: Any, mask: FieldMask | None) -> Any:
    """Keep only what `mask` selects, following lists element by element."""
    if mask is None or (ALL in mask and len(mask) == 1):
        return value
    if isinstance(value, list):
        return [project(item, mask) for item in value]
    if not isinstance(value, dict):
        return value
    everything = ALL in mask
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in mask:
            out[key] = project(item, mask[key])
        elif everything:
            out[key] = item
    return out
