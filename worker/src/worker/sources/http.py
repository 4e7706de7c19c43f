"""HTTP helpers the source connectors share: sending in the source's pace, streaming a download
so that a cut connection is retried, and reading what an error answer says about waiting.

They only turn transport failures into `TransientSourceError`; what an error *answer* means is
each connector's own `classify_error`.
"""

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from worker.sources.base import Pacer, SourceError, TransientSourceError

Failure = Callable[[httpx.Response], Awaitable[SourceError]]


async def send_paced(
    http: httpx.AsyncClient,
    request: httpx.Request,
    pacer: Pacer,
    *,
    no_answer: str,
    stream: bool = False,
    follow_redirects: bool | None = None,
) -> httpx.Response:
    """Send `request` once it is this worker's turn; no answer at all (refused, timed out) is
    a `TransientSourceError` reading `<no_answer>: <the exception>`. `follow_redirects=None`
    leaves it to the client."""
    redirects = httpx.USE_CLIENT_DEFAULT if follow_redirects is None else follow_redirects
    await pacer.wait_turn()
    try:
        return await http.send(request, stream=stream, follow_redirects=redirects)
    except httpx.TransportError as exc:
        raise TransientSourceError(f"{no_answer}: {exc!r}") from exc


@asynccontextmanager
async def open_download(
    http: httpx.AsyncClient,
    request: httpx.Request,
    pacer: Pacer,
    *,
    no_answer: str,
    failure: Failure,
) -> AsyncIterator[AsyncIterator[bytes]]:
    """The body of a 200 answer to `request`, streamed (see `body_chunks`); any other answer
    is read whole and raised as `failure(response)`."""
    response = await send_paced(http, request, pacer, no_answer=no_answer, stream=True)
    try:
        if response.status_code != 200:
            await response.aread()
            raise await failure(response)
        yield body_chunks(response)
    finally:
        await response.aclose()


async def body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives; a cut connection is a transient error, so the transfer is
    retried rather than stored short."""
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    except (httpx.TransportError, httpx.StreamError) as exc:
        raise TransientSourceError(f"download cut off: {exc!r}") from exc


def json_body(response: httpx.Response, source: str) -> Any:
    """The answer's JSON; a body that is not JSON is transient (a proxy's page, a cut body)."""
    try:
        return response.json()
    except json.JSONDecodeError as exc:
        raise TransientSourceError(f"{source} sent a response that is not JSON") from exc


def media_type(response: httpx.Response) -> str:
    """The answer's Content-Type without parameters, lowercased (`text/html`)."""
    content_type: str = response.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower()


async def hold_off_if_rate_limited(
    pacer: Pacer, error: SourceError, default_seconds: float = 0.0
) -> None:
    """After a rate-limit answer, everyone sharing the pacer slows down (pacing.py), and waits
    as long as the source asked, or else `default_seconds` (a source whose clients are told to
    pause; Google's are told to back off per request, which the file's own retry does)."""
    if isinstance(error, TransientSourceError) and error.rate_limited:
        await pacer.hold_off(error.retry_after or default_seconds)
