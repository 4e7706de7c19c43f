"""The zip Dropbox's web link downloads for a shared folder: asking for it, telling a zip from
the web page Dropbox sends when it will not zip the folder, and spooling it to disk."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import Message
from email.utils import collapse_rfc2231_value
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from selectolax.lexbor import LexborHTMLParser

from worker.sources.base import FolderUnavailable, Pacer, TransientSourceError
from worker.sources.dropbox_shared import RATE_LIMIT_PAUSE_SECONDS, classify_error
from worker.sources.http import hold_off_if_rate_limited, media_type, send_paced

CHUNK = 1024 * 1024
# Zips start with a local file header, or are empty (only the end-of-directory record).
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_ZIP_TYPES = {"application/zip", "application/x-zip-compressed", "application/octet-stream"}
# An error page is small; never read more of one than this.
_PAGE_LIMIT = 64 * 1024
NOT_A_ZIP = (
    "Dropbox answered the folder's download link with a web page ({title}) instead of a zip: "
    "the link may need a password, the folder may be over what Dropbox zips for download "
    "(about 250 GB or 10,000 files), or the link may have expired"
)


class ZipDownloads:
    """Folder zips from `web_url` (Dropbox's web host, or the emulator standing for it)."""

    def __init__(self, http: httpx.AsyncClient, *, web_url: str, pacer: Pacer) -> None:
        self._http = http
        self._web_url = web_url.rstrip("/")
        self._pacer = pacer

    def zip_url(self, link_url: str) -> str:
        """The link on the configured web host, with `dl=1` (other parameters kept: `rlkey`
        is the access grant of an `scl` link)."""
        parts = urlsplit(link_url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "dl"]
        return f"{self._web_url}{parts.path}?{urlencode([*query, ('dl', '1')])}"

    @asynccontextmanager
    async def open(
        self, link_url: str
    ) -> AsyncIterator[tuple[bytes, AsyncIterator[bytes], str | None]]:
        """The first chunk of the zip, the rest of its chunks as they arrive, and the folder's
        name (Dropbox names the zip after the folder); every other answer is closed and
        turned into an error."""
        response = await send_paced(
            self._http,
            self._http.build_request("GET", self.zip_url(link_url)),
            self._pacer,
            no_answer="Dropbox did not answer",
            stream=True,
            follow_redirects=True,
        )
        try:
            await self._check(response)
            chunks = response.aiter_bytes(CHUNK)
            try:
                first = await anext(chunks, b"")
            except (httpx.TransportError, httpx.StreamError) as exc:
                raise TransientSourceError(f"the folder's zip was cut off: {exc!r}") from exc
            yield first, chunks, folder_name(response)
        finally:
            await response.aclose()

    async def spool(self, link_url: str, target: Path) -> None:
        """Spool the folder's zip to `target` (via `target.part`, renamed once complete)."""
        partial = target.with_suffix(".part")
        handle = await asyncio.to_thread(partial.open, "wb")
        try:
            async with self.open(link_url) as (first, rest, _):
                if not first.startswith(ZIP_MAGIC):
                    raise FolderUnavailable(NOT_A_ZIP.format(title="not a zip"))
                await asyncio.to_thread(handle.write, first)
                try:
                    async for chunk in rest:
                        await asyncio.to_thread(handle.write, chunk)
                except (httpx.TransportError, httpx.StreamError) as exc:
                    raise TransientSourceError(f"the folder's zip was cut off: {exc!r}") from exc
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(partial.rename, target)
        except BaseException:
            await asyncio.to_thread(handle.close)
            partial.unlink(missing_ok=True)
            raise

    async def _check(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 404:
            raise FolderUnavailable(
                "Dropbox does not know this shared link (HTTP 404): it may have been deleted, "
                "expired or mistyped; an scl link needs its rlkey"
            )
        if status != 200:
            await response.aread()
            error = classify_error(response)
            if isinstance(error, TransientSourceError):
                await hold_off_if_rate_limited(self._pacer, error, RATE_LIMIT_PAUSE_SECONDS)
                raise error
            raise FolderUnavailable(f"Dropbox refused the folder's download link: {error}")
        content_type = media_type(response)
        if content_type not in _ZIP_TYPES:
            title = await _page_title(response)
            raise FolderUnavailable(NOT_A_ZIP.format(title=repr(title) if title else content_type))


def folder_name(response: httpx.Response) -> str | None:
    """The shared folder's name: the zip's file name in `Content-Disposition` (its UTF-8
    `filename*` rather than the ASCII stand-in `filename` beside it), without `.zip`."""
    disposition = response.headers.get("content-disposition")
    if not disposition:
        return None
    header = Message()
    header["content-disposition"] = disposition
    names = [
        value
        for key, value in header.get_params([], header="content-disposition")
        if key == "filename"
    ]
    # The email package gives `filename*` as (charset, language, text), `filename` as text.
    encoded = [collapse_rfc2231_value(value) for value in names if isinstance(value, tuple)]
    filename = (encoded or [value for value in names if isinstance(value, str)] or [""])[0]
    name = filename.removesuffix(".zip")
    return name or None


async def _page_title(response: httpx.Response) -> str:
    body = b""
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= _PAGE_LIMIT:
                break
    except (httpx.TransportError, httpx.StreamError):
        pass
    html = body[:_PAGE_LIMIT].decode(response.encoding or "utf-8", errors="replace")
    title = LexborHTMLParser(html).css_first("title")
    return " ".join(title.text().split()) if title is not None else ""
