"""The source client the worker builds (httpx over aiohttp): what goes wrong on the wire still
reaches the connectors as httpx's errors, and so as `TransientSourceError`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from emulators.google_drive import EmulatorServer, FaultRule
from tests.conftest import DRIVE_API_KEY
from worker.pacing import NoPacing
from worker.sources.base import SourceError, SourceFile, TransientSourceError
from worker.sources.google_drive import GoogleDriveConnector
from worker.sources.http import open_download

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

# Short: the stall tests wait this long for each timeout.
SOURCE_TIMEOUT_SECONDS = 0.5


async def serve(handler: Handler) -> tuple[asyncio.Server, str]:
    """A raw HTTP/1.1 server on a free port that answers every request with `handler`."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        try:
            await handler(reader, writer)
        except asyncio.CancelledError:
            pass  # a stalling handler still running when the test's loop winds down
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def download(http: httpx.AsyncClient, url: str) -> bytes:
    async def failure(response: httpx.Response) -> SourceError:
        return SourceError(f"HTTP {response.status_code}")

    request = http.build_request("GET", url)
    async with open_download(
        http, request, NoPacing(), no_answer="download failed", failure=failure
    ) as chunks:
        return b"".join([chunk async for chunk in chunks])


def head(length: int, status: str = "200 OK", extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n{extra}\r\n"
    ).encode()


async def test_a_body_shorter_than_announced_is_a_transient_error(
    http: httpx.AsyncClient,
) -> None:
    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(head(1000) + b"x" * 10)
        await writer.drain()

    server, url = await serve(short)
    async with server:
        with pytest.raises(TransientSourceError, match="download cut off"):
            await download(http, url)


async def test_a_body_that_stalls_times_out_as_a_transient_error(http: httpx.AsyncClient) -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(head(1000) + b"x" * 10)
        await writer.drain()
        await asyncio.sleep(1)

    server, url = await serve(stall)
    async with server:
        with pytest.raises(TransientSourceError, match="download cut off"):
            await download(http, url)


async def test_no_answer_at_all_is_a_transient_error(http: httpx.AsyncClient) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(1)

    server, url = await serve(silent)
    async with server:
        with pytest.raises(TransientSourceError, match="download failed"):
            await download(http, url)
    # And nobody listening: refused.
    with pytest.raises(TransientSourceError, match="download failed"):
        await download(http, url)


async def test_redirects_are_followed_and_the_body_streams_whole(
    http: httpx.AsyncClient,
) -> None:
    body = bytes(range(256)) * 1000

    hops: list[str] = []

    async def redirect_then_body(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if not hops:
            hops.append("redirected")
            writer.write(head(0, "302 Found", "Location: /file\r\n"))
        else:
            writer.write(head(len(body)) + body)
        await writer.drain()

    server, url = await serve(redirect_then_body)
    async with server:
        assert await download(http, f"{url}/start") == body
    assert hops == ["redirected"]


async def test_a_cookie_an_answer_sets_is_sent_with_the_next_request(
    http: httpx.AsyncClient,
) -> None:
    # The client reads answers for cookies only when they set one (http_client.py): those
    # that do are still kept, and sent back, as the key-less Drive path's confirmation needs.
    cookies: list[str] = []

    async def set_then_expect_cookie(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if not cookies:
            cookies.append("set")
            writer.write(head(0, extra="Set-Cookie: download_warning=abc; Path=/\r\n"))
        else:
            writer.write(head(2) + b"ok")
        await writer.drain()

    server, url = await serve(set_then_expect_cookie)
    async with server:
        first = await http.get(f"{url}/confirm")
        second = await http.get(f"{url}/file")
    assert first.headers["set-cookie"].startswith("download_warning=abc")
    assert second.request.headers["cookie"] == "download_warning=abc"
    # An answer without Set-Cookie leaves the jar as it was.
    assert dict(http.cookies) == {"download_warning": "abc"}


async def test_a_drive_download_cut_midway_is_transient_and_a_retry_reads_it_whole(
    http: httpx.AsyncClient, drive: EmulatorServer
) -> None:
    connector = GoogleDriveConnector(
        http, api_url=drive.base_url, api_key=DRIVE_API_KEY, page_size=1000, pacer=NoPacing()
    )
    item = next(
        item
        for item in drive.fixture
        if item.is_image and not item.trashed and (item.size or 0) > 10_000
    )
    source_file = SourceFile(
        file_id=item.id,
        name=item.name,
        mime_type=item.mime_type,
        size=item.size,
        resource_key=item.resource_key,
    )

    async def read() -> bytes:
        async with connector.open_file(source_file) as chunks:
            return b"".join([chunk async for chunk in chunks])

    drive.set_faults(FaultRule("cut_body", routes=frozenset({"media"}), every=1, limit=1))
    try:
        with pytest.raises(TransientSourceError, match="cut off"):
            await read()
    finally:
        drive.set_faults()
    assert await read() == drive.fixture.read_bytes(item.id)
