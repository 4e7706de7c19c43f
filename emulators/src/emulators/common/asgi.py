"""Minimal plain-ASGI plumbing: a parsed request, the few response shapes the emulators send,
and the lifespan handshake uvicorn expects."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

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
    # Non-ASCII characters are written as UTF-8, as Google does.
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


def counting_responses(
    send: Send, responses: Counter[str], kind: str, answers: Counter[str] | None = None
) -> Send:
    """`send`, counting each response as `"<kind> <status>"` in `responses`, and each success
    (a status below 400) as `"<kind> served"` in `answers` when given."""

    async def counted_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            responses[f"{kind} {message['status']}"] += 1
            if answers is not None and message["status"] < 400:
                answers[f"{kind} served"] += 1
        await send(message)

    return counted_send


async def serve_lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown: an emulator has nothing to open or close."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
