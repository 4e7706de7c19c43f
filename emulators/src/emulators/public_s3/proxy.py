"""A fault-injecting pass-through in front of a real S3 server: what SeaweedFS cannot be made
to do on demand, failing the way S3 documents.

Every request is passed to the upstream server as it came (method, path, query, headers but
Host) and its answer streamed back as it comes, so listings, objects and the server's own errors
are the real server's. A request the fault rules pick (the engine shared by every emulator,
`emulators.common.faults`) is answered instead with an S3 `Error` document:

| fault | answer |
|---|---|
| `slow_down` | 503 `SlowDown` "Please reduce your request rate.", no Retry-After (Amazon) |
| `slow_down_retry_after` | the same with `Retry-After: <retry_after>` (MinIO sends 120) |
| `too_many_requests` | 429 `SlowDown` with Retry-After (Google Cloud Storage's XML API) |
| `internal_error` | 500 `InternalError` "We encountered an internal error. Please try again." |
| `service_unavailable` | 503 `ServiceUnavailable` "Service is unable to handle request." |
| `cut_body` | the object's real answer, its body cut at `cut_at` and the connection dropped |

Route kinds (for rules and stats): `list` (a GET on a bucket: ListObjectsV2), `get` (a GET on
an object), `other` (anything else). Control at `/_emulator/` as every emulator's (health,
stats, faults, settings).
"""

from __future__ import annotations

import contextvars
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final
from xml.sax.saxutils import escape

import httpx

from emulators.common.app import BaseEmulatorApp
from emulators.common.asgi import Receive, Request, Scope, Send, send_bytes
from emulators.common.downloads import BodyCut
from emulators.common.faults import BaseFaultRule, FaultPlan
from emulators.common.server import BackgroundServer
from emulators.common.state import Counters, LiveSettings

ROUTE_KINDS: Final = frozenset({"list", "get", "other"})
FAULTS: Final = frozenset(
    {
        "slow_down",
        "slow_down_retry_after",
        "too_many_requests",
        "internal_error",
        "service_unavailable",
        "cut_body",
    }
)
_SLOW_DOWN = "Please reduce your request rate."
_INTERNAL = "We encountered an internal error. Please try again."
# fault: (status, Code, Message, whether Retry-After is sent)
_ERRORS = {
    "slow_down": (503, "SlowDown", _SLOW_DOWN, False),
    "slow_down_retry_after": (503, "SlowDown", _SLOW_DOWN, True),
    "too_many_requests": (429, "SlowDown", _SLOW_DOWN, True),
    "internal_error": (500, "InternalError", _INTERNAL, False),
    "service_unavailable": (
        503,
        "ServiceUnavailable",
        "Service is unable to handle request.",
        False,
    ),
}
_RAW_TARGET: contextvars.ContextVar[str] = contextvars.ContextVar("raw_target")
# Hop-by-hop headers, and those the proxy sets itself.
_NOT_FORWARDED = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass
class S3ErrorAnswer(Exception):
    status: int
    code: str
    message: str
    retry_after: int | None = None


@dataclass
class FaultRule(BaseFaultRule):
    """One S3 fault and when to inject it; counters (`seen`, `fired`) are per rule."""

    route_kinds: ClassVar[frozenset[str]] = ROUTE_KINDS
    fault_names: ClassVar[frozenset[str]] = FAULTS
    content_faults: ClassVar[frozenset[str]] = frozenset({"cut_body"})
    content_routes: ClassVar[frozenset[str]] = frozenset({"get"})
    content_routes_named: ClassVar[str] = "get route"

    routes: frozenset[str] = ROUTE_KINDS

    def error(self) -> S3ErrorAnswer:
        status, code, message, says_when = _ERRORS[self.fault]
        return S3ErrorAnswer(status, code, message, self.retry_after if says_when else None)


@dataclass
class ProxySettings(LiveSettings):
    upstream: str = ""

    def __post_init__(self) -> None:
        if not self.upstream.startswith(("http://", "https://")):
            raise ValueError("upstream must be an http(s) base URL")

    def to_json(self) -> dict[str, Any]:
        return {"upstream": self.upstream}


@dataclass
class ProxyStats(Counters):
    requests: Counter[str] = field(default_factory=Counter)
    responses: Counter[str] = field(default_factory=Counter)
    faults_injected: Counter[str] = field(default_factory=Counter)
    bytes_served: int = 0


@dataclass
class ProxyState:
    settings: ProxySettings
    faults: FaultPlan[FaultRule] = field(default_factory=FaultPlan)
    stats: ProxyStats = field(default_factory=ProxyStats)


def route_kind(request: Request) -> str:
    if request.method != "GET":
        return "other"
    return "get" if "/" in request.path.strip("/") else "list"


class S3FaultProxyApp(BaseEmulatorApp[ProxyState]):
    fault_rule = FaultRule

    def __init__(self, state: ProxyState) -> None:
        super().__init__(state)
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # The target exactly as the client encoded it: a key's escapes are the server's
            # to read. (Each request is a task of its own, with its own context.)
            path = scope.get("raw_path") or scope["path"].encode()
            query = scope.get("query_string", b"")
            target = path + (b"?" + query if query else b"")
            _RAW_TARGET.set(target.decode("latin-1"))
        await super().__call__(scope, receive, send)

    async def serve(self, request: Request, receive: Receive, send: Send) -> None:
        kind = route_kind(request)
        stats = self.state.stats
        stats.requests[kind] += 1
        rule = self.state.faults.decide(kind, request.path)
        if rule is not None and rule.fault != "cut_body":
            stats.faults_injected[rule.fault] += 1
            await _send_error(send, rule.error(), request.path, stats)
            return
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=60)
        upstream = httpx.URL(self.state.settings.upstream + _RAW_TARGET.get())
        headers = {k: v for k, v in request.headers.items() if k not in _NOT_FORWARDED}
        body = await _read_all(receive)
        upstream_request = self._client.build_request(
            request.method, upstream, headers=headers, content=body
        )
        response = await self._client.send(upstream_request, stream=True)
        try:
            out_headers = [
                (k.encode("latin-1"), v.encode("latin-1"))
                for k, v in response.headers.items()
                if k.lower() not in _NOT_FORWARDED
            ]
            length = response.headers.get("content-length")
            if length is not None:
                out_headers.append((b"content-length", length.encode()))
            stats.responses[f"{kind} {response.status_code}"] += 1
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": out_headers,
                }
            )
            cut_point = None
            if rule is not None and response.status_code == 200 and length is not None:
                cut_point = rule.cut_point(int(length))
            sent = 0
            async for chunk in response.aiter_raw():
                if cut_point is not None and sent + len(chunk) > cut_point:
                    partial = chunk[: cut_point - sent]
                    if partial:
                        await send(
                            {"type": "http.response.body", "body": partial, "more_body": True}
                        )
                    stats.faults_injected["cut_body"] += 1
                    raise BodyCut(f"cut {request.path} after {cut_point} bytes")
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
                stats.bytes_served += len(chunk)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()


async def _read_all(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send_error(send: Send, error: S3ErrorAnswer, resource: str, stats: ProxyStats) -> None:
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{error.code}</Code><Message>{escape(error.message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{request_id}</RequestId></Error>"
    ).encode()
    headers = {"x-amz-request-id": request_id}
    if error.retry_after is not None:
        headers["retry-after"] = str(error.retry_after)
    stats.responses[f"fault {error.status}"] += 1
    await send_bytes(send, error.status, body, b"application/xml", headers)


class S3FaultProxy(BackgroundServer):
    """The fault proxy on 127.0.0.1 in a background thread, in front of `upstream` (an S3
    endpoint such as SeaweedFS's); `base_url` is the endpoint to give a client."""

    label = "S3 fault proxy"
    app: S3FaultProxyApp

    def __init__(
        self, upstream: str, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
    ) -> None:
        app = S3FaultProxyApp(ProxyState(ProxySettings(upstream.rstrip("/"))))
        super().__init__(app, host=host, port=port, log_level=log_level)

    @property
    def stats(self) -> ProxyStats:
        return self.app.state.stats
