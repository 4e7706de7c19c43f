"""The web side of a shared folder link, as a signed-out browser meets it at www.dropbox.com.

`GET <link>` (dl=0, or no dl) is the folder's preview page. `GET <link>&dl=1` redirects to a zip
of the whole folder, built on the fly (reference notes B1: observed, not documented), which this
emulator serves from `/zip_download_get/<token>` on its own address. Choices (all *chosen*):

- The zip holds a `/` entry first (a quirk of Dropbox's zips that unzip warns about), then every
  folder (`sub/`) and every downloadable file (`sub/a.jpg`) by its path below the link's root, with
  UTF-8 names; cloud documents (not downloadable) are left out. It is streamed without a
  Content-Length, like any archive made as it is sent.
- A password-protected link answers dl=1 with its password page (200, HTML), not a zip; so does
  a folder over `zip_max_files` / `zip_max_bytes`, with a "too large" page.
- An unknown link, or an `scl` link without its `rlkey`, is a 404 HTML page.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
import zipfile
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from emulators.common.asgi import Receive, Request, Send, send_bytes
from emulators.common.downloads import BodyCut
from emulators.dropbox.faults import FaultRule
from emulators.dropbox.fixture import DropboxFixture, SharedFolder
from emulators.dropbox.state import EmulatorState

HTML_TYPE = b"text/html; charset=utf-8"
ZIP_PREFIX = "/zip_download_get/"
_FLUSH_AT = 256 * 1024


def is_link_path(path: str) -> bool:
    return path.startswith(("/sh/", "/scl/fo/"))


def _page(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>{body}</body></html>"
    ).encode()


async def send_html(
    send: Send, status: int, page: bytes, headers: dict[str, str] | None = None
) -> None:
    await send_bytes(send, status, page, HTML_TYPE, headers)


async def send_error_page(send: Send, status: int, headers: dict[str, str] | None = None) -> None:
    title = "Dropbox - Error" if status != 404 else "Dropbox - 404"
    message = {404: "That didn't work for some reason", 429: "Too many requests"}.get(
        status, "Something went wrong"
    )
    await send_html(
        send, status, _page(title, f"<h1>Error ({status})</h1><p>{message}</p>"), headers
    )


def _request_url(request: Request) -> str:
    return f"https://www.dropbox.com{request.path}?{urlencode(request.query)}"


async def link_page(request: Request, send: Send, state: EmulatorState) -> None:
    """The link itself: a preview page, or with dl=1 a redirect to the folder's zip."""
    shared = state.fixture.resolve_link(_request_url(request))
    if shared is None or request.path.rstrip("/") != shared.link.path:
        await send_error_page(send, 404)
        return
    name = shared.item.name
    if request.query.get("dl") != "1":
        rows = "".join(
            f"<li>{html.escape(child.name)}{'/' if child.is_folder else ''}</li>"
            for child in shared.item.children
        )
        await send_html(
            send, 200, _page(f"{name} - Dropbox", f"<h1>{html.escape(name)}</h1><ul>{rows}</ul>")
        )
        return
    if shared.link.password is not None:
        await send_html(
            send,
            200,
            _page(
                "Dropbox - Password required",
                "<p>This link is password protected.</p><form method='post'>"
                "<input type='password' name='password'></form>",
            ),
        )
        return
    files = [item for item in shared.walk() if not item.is_folder and item.is_downloadable]
    settings = state.settings
    if (
        len(files) > settings.zip_max_files
        or sum(f.size or 0 for f in files) > settings.zip_max_bytes
    ):
        await send_html(
            send,
            200,
            _page(
                "Dropbox - Too large",
                "<p>This folder is too large to download. Try downloading individual files.</p>",
            ),
        )
        return
    token = state.signer.sign({"kind": "zip", "link": shared.link.path})
    await send_html(send, 302, _page("Found", "<p>Found</p>"), {"location": f"{ZIP_PREFIX}{token}"})


def _zip_time(epoch_seconds: int) -> tuple[int, int, int, int, int, int]:
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


class _Sink(io.RawIOBase):
    """An unseekable stream the zip is written into and drained from as it grows."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.buffer.extend(data)
        return len(data)

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def zip_chunks(
    fixture: DropboxFixture, shared: SharedFolder, compression: str, chunk_size: int
) -> Generator[bytes, None, None]:
    """The folder's zip, in pieces of roughly `_FLUSH_AT` bytes, generated as it is read."""
    method = zipfile.ZIP_DEFLATED if compression == "deflated" else zipfile.ZIP_STORED
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=method, allowZip64=True) as archive:
        root = zipfile.ZipInfo("/", _zip_time(shared.item.server_modified))
        root.external_attr = 0o40755 << 16 | 0x10
        archive.writestr(root, b"")
        for item in shared.walk():
            name = item.relative_path.lstrip("/")
            if item.is_folder:
                folder = zipfile.ZipInfo(name + "/", _zip_time(item.server_modified))
                folder.external_attr = 0o40755 << 16 | 0x10
                archive.writestr(folder, b"")
                continue
            if not item.is_downloadable:
                continue
            info = zipfile.ZipInfo(name, _zip_time(item.client_modified))
            info.compress_type = method
            if method == zipfile.ZIP_DEFLATED:
                info._compresslevel = 1  # type: ignore[attr-defined]
            info.external_attr = 0o644 << 16
            info.file_size = item.size or 0
            with archive.open(
                info, "w", force_zip64=(item.size or 0) >= zipfile.ZIP64_LIMIT
            ) as entry:
                for chunk in fixture.iter_bytes(item.id, chunk_size=chunk_size):
                    entry.write(chunk)
                    if len(sink.buffer) >= _FLUSH_AT:
                        yield sink.take()
            if len(sink.buffer) >= _FLUSH_AT:
                yield sink.take()
    yield sink.take()


async def zip_download(
    request: Request, receive: Receive, send: Send, state: EmulatorState, cut: FaultRule | None
) -> None:
    token = request.path[len(ZIP_PREFIX) :]
    claim = state.signer.read(token)
    shared = None
    if claim is not None and claim.get("kind") == "zip":
        shared = next((s for s in state.fixture.shared if s.link.path == claim.get("link")), None)
    if shared is None:
        await send_error_page(send, 404)
        return
    filename = f"{shared.item.name}.zip"
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/zip"),
                (b"content-disposition", disposition.encode("latin-1")),
            ],
        }
    )
    stats = state.stats
    stats.zip_downloads += 1
    estimate = sum(item.size or 0 for item in shared.walk() if not item.is_folder)
    # The zip is built as it is sent, so its length is not known: cut within the files' bytes.
    cut_point = cut.cut_point(max(estimate, 2)) if cut is not None else None
    pieces = zip_chunks(
        state.fixture, shared, state.settings.zip_compression, state.settings.chunk_size
    )
    # A client that reads the first bytes and hangs up (to check the link) stops the build.
    gone = asyncio.Event()
    watcher = asyncio.create_task(_watch_disconnect(receive, gone))
    try:
        await _send_pieces(send, state, shared.item.name, pieces, cut_point, gone)
    finally:
        watcher.cancel()
        with contextlib.suppress(ValueError):  # still running in its thread: it ends alone
            pieces.close()


async def _watch_disconnect(receive: Receive, gone: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


async def _send_pieces(
    send: Send,
    state: EmulatorState,
    name: str,
    pieces: Iterator[bytes],
    cut_point: int | None,
    gone: asyncio.Event,
) -> None:
    stats = state.stats
    sent = 0
    while not gone.is_set():
        # Compressing is CPU work: one piece at a time off the event loop.
        piece = await asyncio.to_thread(next, pieces, None)
        if piece is None:
            break
        if cut_point is not None and sent + len(piece) > cut_point:
            partial = piece[: cut_point - sent]
            if partial:
                await send({"type": "http.response.body", "body": partial, "more_body": True})
                stats.zip_bytes_served += len(partial)
            stats.faults_injected["cut_body"] += 1
            raise BodyCut(f"cut the zip of {name} after {cut_point} bytes")
        if piece:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            sent += len(piece)
            stats.zip_bytes_served += len(piece)
    await send({"type": "http.response.body", "body": b"", "more_body": False})
