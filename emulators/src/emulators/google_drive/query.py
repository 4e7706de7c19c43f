"""The `q` search parameter of files.list, restricted to the terms a folder importer needs.

Supported: `'<id>' in parents`, `trashed = true|false` (and `!=`), `mimeType = '…'`,
`mimeType != '…'`, `name = '…'` (and `!=`), grouped with parentheses and joined by `and`.
Strings take single or double quotes with `\\'` and `\\\\` escapes. Everything else (`or`,
`not`, `contains`, other fields) is answered with 400 invalid, so a client relying on an
unsupported term fails loudly instead of silently getting a wrong listing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from emulators.google_drive import errors

if TYPE_CHECKING:
    from emulators.google_drive.fixture import DriveItem

_FIELDS = {"parents", "trashed", "mimeType", "name"}


@dataclass(frozen=True)
class _Token:
    kind: str  # "str", "word", "op", "(", ")"
    text: str


@dataclass
class Query:
    """A parsed `q`: the parent folders it names and a predicate over the other terms."""

    parents: list[str] = field(default_factory=list)
    predicates: list[Callable[[DriveItem], bool]] = field(default_factory=list)

    def matches(self, item: DriveItem) -> bool:
        if any(item.parent_id != parent for parent in self.parents):
            return False
        return all(predicate(item) for predicate in self.predicates)


def _bad() -> errors.DriveError:
    return errors.invalid_value("q")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    length = len(text)
    while pos < length:
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char in "'\"":
            quote = char
            pos += 1
            chars: list[str] = []
            while True:
                if pos >= length:
                    raise _bad()
                char = text[pos]
                if char == "\\":
                    if pos + 1 >= length or text[pos + 1] not in "'\"\\":
                        raise _bad()
                    chars.append(text[pos + 1])
                    pos += 2
                elif char == quote:
                    pos += 1
                    break
                else:
                    chars.append(char)
                    pos += 1
            tokens.append(_Token("str", "".join(chars)))
        elif char in "()":
            tokens.append(_Token(char, char))
            pos += 1
        elif text.startswith("!=", pos):
            tokens.append(_Token("op", "!="))
            pos += 2
        elif char == "=":
            tokens.append(_Token("op", "="))
            pos += 1
        elif char.isalnum() or char == "_":
            start = pos
            while pos < length and (text[pos].isalnum() or text[pos] == "_"):
                pos += 1
            tokens.append(_Token("word", text[start:pos]))
        else:
            raise _bad()
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.query = Query()

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise _bad()
        self.pos += 1
        return token

    def conjunction(self) -> None:
        self.term()
        while (token := self.peek()) is not None and token.kind == "word":
            if token.text.lower() != "and":
                raise _bad()
            self.take()
            self.term()

    def term(self) -> None:
        token = self.take()
        if token.kind == "(":
            self.conjunction()
            if self.take().kind != ")":
                raise _bad()
        elif token.kind == "str":
            keyword = self.take()
            target = self.take()
            if keyword.kind != "word" or keyword.text.lower() != "in":
                raise _bad()
            if target.kind != "word" or target.text != "parents":
                raise _bad()
            self.query.parents.append(token.text)
        elif token.kind == "word" and token.text in _FIELDS and token.text != "parents":
            self.comparison(token.text)
        else:
            raise _bad()

    def comparison(self, name: str) -> None:
        op = self.take()
        value = self.take()
        if op.kind != "op":
            raise _bad()
        negate = op.text == "!="
        if name == "trashed":
            if value.kind != "word" or value.text.lower() not in ("true", "false"):
                raise _bad()
            wanted = (value.text.lower() == "true") != negate
            self.query.predicates.append(lambda item: item.trashed == wanted)
            return
        if value.kind != "str":
            raise _bad()
        text = value.text
        if name == "mimeType":
            if negate:
                self.query.predicates.append(lambda item: item.mime_type != text)
            else:
                self.query.predicates.append(lambda item: item.mime_type == text)
        elif negate:
            self.query.predicates.append(lambda item: item.name != text)
        else:
            self.query.predicates.append(lambda item: item.name == text)


def parse_query(text: str | None) -> Query:
    """Parse `q`; an empty or absent `q` selects nothing in particular (no parent)."""
    if text is None or not text.strip():
        return Query()
    parser = _Parser(_tokenize(text))
    parser.conjunction()
    if parser.peek() is not None:
        raise _bad()
    return parser.query
