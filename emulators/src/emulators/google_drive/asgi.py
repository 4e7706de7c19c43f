"""Minimal plain-ASGI plumbing: a parsed request and the few response shapes the emulator sends."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from emulators.google_drive.errors import DriveError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_TYPE = b"application/json; charset=UTF-8"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]

    @classmethod
    def from_scope(cls, scope: Scope) -> Request:
        query: dict[str, str] = {}
        raw_query = scope.get("query_string", b"").decode("latin-1")
        for name, value in parse_qsl(raw_query, keep_blank_values=True):
            query.setdefault(name, value)  # Google reads the first of repeated parameters
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope.get("headers", ())
        }
        return cls(scope["method"], scope["path"], query, headers)

    @property
    def pretty(self) -> bool:
        return self.query.get("prettyPrint", "true").lower() != "false"


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def encode_json(body: Any, pretty: bool) -> bytes:
    # Google pretty-prints unless prettyPrint=false and writes non-ASCII characters as UTF-8.
    if pretty:
        return json.dumps(body, indent=2, ensure_ascii=False).encode() + b"\n"
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


async def send_bytes(
    send: Send,
    status: int,
    payload: bytes,
    content_type: bytes,
    headers: dict[str, str] | None = None,
) -> None:
    raw_headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(payload)).encode()),
    ]
    raw_headers += [(k.encode(), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


async def send_json(
    send: Send,
    status: int,
    body: Any,
    pretty: bool = True,
    headers: dict[str, str] | None = None,
) -> None:
    await send_bytes(send, status, encode_json(body, pretty), JSON_TYPE, headers)


async def send_drive_error(send: Send, error: DriveError, pretty: bool = True) -> None:
    await send_json(send, error.code, error.body(), pretty, error.headers)
