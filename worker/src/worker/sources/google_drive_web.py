"""Google Drive without an API key, through the public web pages a signed-out browser uses.

Listing reads `{web_url}/embeddedfolderview?id=<folder>`: an HTML page with every child of the
folder (no paging, no sizes, no checksums). Downloads ask
`{download_url}/download?id=<file>&export=download&confirm=t` and follow the "virus scan
warning" form Google puts in front of large files. Neither endpoint is documented, so parsing is
lenient and anything unrecognised fails loudly rather than importing nothing.

Redirects are followed by hand, never by the shared client: a hop to Google's sign-in page
means "not shared publicly", and a hop to a Google host is rebased onto the configured URLs so
the emulator can stand for drive.google.com and drive.usercontent.google.com at once.
"""

import mimetypes
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

import httpx

from worker.sources.base import (
    FolderPage,
    FolderRef,
    FolderUnavailable,
    ImportLink,
    Pacer,
    PermanentSourceError,
    SourceFile,
    TransientSourceError,
)
from worker.sources.google_drive import FOLDER_MIME_TYPE, GOOGLE_NATIVE_PREFIX, SHORTCUT_MIME_TYPE
from worker.sources.http import body_chunks, media_type, retry_after_seconds, send_paced
from worker.sources.media_types import image_type_by_extension

_REAL_HOSTS = {"drive.google.com": "web", "drive.usercontent.google.com": "download"}
_SIGN_IN_HOST = "accounts.google.com"
_DOCS_HOST = "docs.google.com"
_MAX_REDIRECTS = 5
# A large file gets one warning page; a second one after submitting it means something changed.
_MAX_CONFIRMATIONS = 2
# Error and warning pages are small; never read more of an unexpected page than this.
_PAGE_LIMIT = 1024 * 1024
_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
# The docs.google.com path names of the Docs-editor types (the mime type when no icon says it).
_EDITOR_TYPES = {
    "document": "application/vnd.google-apps.document",
    "spreadsheets": "application/vnd.google-apps.spreadsheet",
    "presentation": "application/vnd.google-apps.presentation",
    "drawings": "application/vnd.google-apps.drawing",
    "forms": "application/vnd.google-apps.form",
}
_NOT_PUBLIC = (
    "was not found or is not shared publicly (share it as 'Anyone with the link', and paste "
    "the whole link: some links carry a resource key)"
)


class _SignInRequired(PermanentSourceError):
    """Google redirected to its sign-in page: the item is not public, or needs a resource key."""


class GoogleDriveWebConnector:
    """A `SourceConnector` for public Google Drive folders that needs no API key."""

    # `str | None`, not `str`: the protocol's attribute is `str | None`, and mypy checks
    # protocol attributes invariantly.
    notes: str | None = (
        "Imported without an API key through Google Drive's public web pages, which are "
        "undocumented and may change. Google gives no sizes or checksums this way, so files are "
        "checked only against what was received; popular files can hit Google's per-file "
        "download quota, and Google Docs, Sheets and Slides cannot be downloaded."
    )

    def __init__(
        self, http: httpx.AsyncClient, *, web_url: str, download_url: str, pacer: Pacer
    ) -> None:
        self._http = http
        self._pacer = pacer
        self._web_url = web_url.rstrip("/")
        self._download_url = download_url.rstrip("/")
        self._own_origins = {_origin(self._web_url), _origin(self._download_url)}

    def for_link(self, link: ImportLink) -> "GoogleDriveWebConnector":
        # Every folder and file is reached by its id and resource key alone.
        return self

    async def check_folder(self, folder: FolderRef) -> None:
        await self._read_folder(folder)

    async def list_page(self, folder: FolderRef, page_token: str | None) -> FolderPage:
        # The embedded view has no pages: every child comes at once, so there is never a token.
        view = await self._read_folder(folder)
        page = FolderPage()
        seen: set[str] = set()
        for entry in view.entries:
            record = _to_record(entry)
            if record is None:
                continue
            record_id = record.folder_id if isinstance(record, FolderRef) else record.file_id
            if record_id in seen:
                continue
            seen.add(record_id)
            if isinstance(record, FolderRef):
                page.folders.append(record)
            else:
                page.files.append(record)
        return page

    @asynccontextmanager
    async def open_file(self, file: SourceFile) -> AsyncIterator[AsyncIterator[bytes]]:
        why_not = _why_not_downloadable(file.mime_type)
        if why_not is not None:
            raise PermanentSourceError(why_not)
        response = await self._open_download(file)
        try:
            yield _checked_chunks(response)
        finally:
            await response.aclose()

    async def _read_folder(self, folder: FolderRef) -> "_FolderViewParser":
        params = {"id": folder.folder_id}
        if folder.resource_key:
            params["resourcekey"] = folder.resource_key
        url = str(httpx.URL(f"{self._web_url}/embeddedfolderview", params=params))
        unavailable = f"the Google Drive folder {folder.folder_id} {_NOT_PUBLIC}"
        try:
            response = await self._get(url)
        except _SignInRequired as exc:
            raise FolderUnavailable(f"{unavailable}: Google asks to sign in") from exc
        except PermanentSourceError as exc:
            raise FolderUnavailable(f"{unavailable}: {exc}") from exc
        parser = _FolderViewParser()
        try:
            if response.status_code == 404:
                raise FolderUnavailable(unavailable)
            if response.status_code != 200:
                error = classify_error(response)
                if isinstance(error, TransientSourceError):
                    raise error
                raise FolderUnavailable(f"{unavailable}: {error}")
            if not _is_html(response):
                raise FolderUnavailable(
                    f"{unavailable}: Google Drive answered with "
                    f"{response.headers.get('content-type', 'no content type')}, not a folder page"
                )
            try:
                async for text in response.aiter_text():
                    parser.feed(text)
            except (httpx.TransportError, httpx.StreamError) as exc:
                raise TransientSourceError(f"the folder page was cut off: {exc!r}") from exc
            parser.close()
        finally:
            await response.aclose()
        if not parser.found_listing:
            raise FolderUnavailable(
                f"{unavailable}: the page Google Drive sent has no folder listing (it may need "
                "a sign-in, or Google may have changed the page)"
            )
        return parser

    async def _open_download(self, file: SourceFile) -> httpx.Response:
        """The streaming response that carries the file as an attachment; every other answer
        is closed and turned into an error (or, for the virus-scan warning, followed)."""
        params = {"id": file.file_id, "export": "download", "confirm": "t"}
        if file.resource_key:
            params["resourcekey"] = file.resource_key
        url = str(httpx.URL(f"{self._download_url}/download", params=params))
        for _ in range(_MAX_CONFIRMATIONS + 1):
            try:
                response = await self._get(url)
            except _SignInRequired as exc:
                raise PermanentSourceError(
                    f"Google asks to sign in to download {file.file_id}: the file is not shared "
                    "publicly or its resource key is missing"
                ) from exc
            if response.status_code == 200 and _is_attachment(response):
                return response
            try:
                if response.status_code != 200:
                    raise classify_error(response)
                if not _is_html(response):
                    raise PermanentSourceError(
                        "Google Drive sent "
                        f"{response.headers.get('content-type', 'a response')} without an "
                        "attachment instead of the file"
                    )
                page = _DownloadPageParser()
                page.feed(await _read_limited(response))
                page.close()
            finally:
                await response.aclose()
            if page.form_action is not None:
                url = self._form_target(page, str(response.url))
                continue
            if "quota exceeded" in page.title.lower():
                raise TransientSourceError(
                    "Google Drive's download quota for this file is exceeded (too many people "
                    "downloaded it recently); try again later, possibly hours later"
                )
            described = page.title or "an untitled page"
            if page.error:
                described += f": {page.error}"
            raise PermanentSourceError(
                f"Google Drive answered with a page instead of the file ({described})"
            )
        raise TransientSourceError("Google Drive kept asking to confirm the download")

    def _form_target(self, page: "_DownloadPageParser", page_url: str) -> str:
        """The URL the virus-scan form submits to: its action with its fields as the query.

        The current form is a GET to drive.usercontent.google.com/download; older pages used a
        link or a POST whose action already held every parameter, and those are sent the same
        way (as a GET)."""
        action = urlsplit(urljoin(page_url, page.form_action or ""))
        params = dict(parse_qsl(action.query, keep_blank_values=True)) | page.form_fields
        target = urlunsplit((action.scheme, action.netloc, action.path, urlencode(params), ""))
        rebased = self._rebase(target)
        if rebased is None:
            raise PermanentSourceError(
                f"Google Drive's virus-scan page sends the download to an unexpected address "
                f"({action.netloc})"
            )
        return rebased

    async def _get(self, url: str) -> httpx.Response:
        """GET `url` as a stream, following redirects by hand (see the module docstring)."""
        for _ in range(_MAX_REDIRECTS + 1):
            response = await send_paced(
                self._http,
                self._http.build_request("GET", url),
                self._pacer,
                no_answer="Google Drive did not answer",
                stream=True,
                follow_redirects=False,
            )
            if response.status_code == 429:
                # Google asked everyone reading this way to slow down, not just this job.
                await self._pacer.hold_off(
                    retry_after_seconds(response) or _RATE_LIMIT_PAUSE_SECONDS
                )
            if not response.has_redirect_location:
                return response
            await response.aclose()
            target = urljoin(str(response.url), response.headers["location"])
            url = self._redirect_target(target)
        raise TransientSourceError("Google Drive redirected too many times")

    def _redirect_target(self, target: str) -> str:
        parts = urlsplit(target)
        host = (parts.hostname or "").lower()
        if host == _SIGN_IN_HOST or "servicelogin" in parts.path.lower():
            raise _SignInRequired("Google asks to sign in")
        if host == _DOCS_HOST:
            raise PermanentSourceError(
                "Google Drive sends this file to the Docs editor: Google Docs, Sheets and Slides "
                "cannot be downloaded without an API key"
            )
        rebased = self._rebase(target)
        if rebased is None:
            raise PermanentSourceError(f"Google Drive redirected to an unexpected address ({host})")
        return rebased

    def _rebase(self, url: str) -> str | None:
        """`url` moved onto the configured base URLs when it names Google's web or download host;
        unchanged when it is already on them; None for any other host."""
        parts = urlsplit(url)
        if _origin(url) in self._own_origins:
            return url
        role = _REAL_HOSTS.get((parts.hostname or "").lower())
        if role is None or parts.scheme != "https":
            return None
        base = self._web_url if role == "web" else self._download_url
        return base + urlunsplit(("", "", parts.path, parts.query, ""))


_RATE_LIMIT_PAUSE_SECONDS = 2.0


def classify_error(response: httpx.Response) -> TransientSourceError | PermanentSourceError:
    """Retry later for 429 and 5xx (honouring Retry-After); anything else is final."""
    status = response.status_code
    described = f"Google Drive answered HTTP {status} {response.reason_phrase}".rstrip()
    if status == 404:
        described += " (the file was not found; it may have been deleted or unshared)"
    if status == 429 or status >= 500:
        return TransientSourceError(described, retry_after=retry_after_seconds(response))
    return PermanentSourceError(described)


async def _checked_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives; a cut connection, or fewer bytes than Content-Length announced,
    is a transient error so the transfer is retried rather than stored short."""
    announced = _content_length(response)
    async for chunk in body_chunks(response):
        yield chunk
    received = response.num_bytes_downloaded
    if announced is not None and received < announced:
        raise TransientSourceError(f"download cut off after {received} of {announced} bytes")


async def _read_limited(response: httpx.Response) -> str:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= _PAGE_LIMIT:
                break
    except (httpx.TransportError, httpx.StreamError) as exc:
        raise TransientSourceError(f"Google Drive's page was cut off: {exc!r}") from exc
    return b"".join(chunks)[:_PAGE_LIMIT].decode(response.encoding or "utf-8", errors="replace")


@dataclass
class _Entry:
    """One `div.flip-entry` as found in the page, before interpretation."""

    entry_id: str | None
    href: str | None = None
    icon: str | None = None
    title: list[str] = field(default_factory=list)


class _FolderViewParser(HTMLParser):
    """Collects the `div.flip-entry` blocks of an embedded folder view.

    Only the structure scrapers agree on is relied upon: the `flip-entries` container, each
    entry's `id="entry-<ID>"`, its first link, its type icon (`…/type/<MIME>`) and the text
    of its `flip-entry-title`. Everything else (scripts, dates, layout) is ignored."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found_listing = False
        self.entries: list[_Entry] = []
        self._depth = 0  # open <div> elements
        self._entry: _Entry | None = None
        self._entry_depth = 0
        self._title_depth: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        entry = self._entry
        if tag == "a" and entry is not None and entry.href is None:
            entry.href = attributes.get("href")
        elif tag == "img" and entry is not None and entry.icon is None:
            source = attributes.get("src", "")
            if "/type/" in source:
                entry.icon = source
        if tag != "div":
            return
        self._depth += 1
        classes = attributes.get("class", "").split()
        if "flip-entries" in classes:
            self.found_listing = True
        if "flip-entry" in classes:
            self._finish_entry()
            element_id = attributes.get("id", "")
            entry_id = element_id[len("entry-") :] if element_id.startswith("entry-") else None
            self._entry = _Entry(entry_id or None)
            self._entry_depth = self._depth
        elif "flip-entry-title" in classes and entry is not None and self._title_depth is None:
            self._title_depth = self._depth

    def handle_endtag(self, tag: str) -> None:
        if tag != "div" or self._depth == 0:
            return
        if self._title_depth == self._depth:
            self._title_depth = None
        if self._entry is not None and self._entry_depth == self._depth:
            self._finish_entry()
        self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._title_depth is not None and self._entry is not None:
            self._entry.title.append(data)

    def close(self) -> None:
        super().close()
        self._finish_entry()

    def _finish_entry(self) -> None:
        if self._entry is not None:
            self.entries.append(self._entry)
        self._entry = None
        self._title_depth = None


class _DownloadPageParser(HTMLParser):
    """What matters on a page Google sent instead of a file: its title, the virus-scan form
    (or the older "Download anyway" link), and the error text of `p.uc-error-subcaption`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.form_action: str | None = None
        self.form_fields: dict[str, str] = {}
        self._title: list[str] = []
        self._error: list[str] = []
        self._in_title = False
        self._in_form = False
        self._in_error = False

    @property
    def title(self) -> str:
        return " ".join("".join(self._title).split())

    @property
    def error(self) -> str:
        return " ".join("".join(self._error).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "title":
            self._in_title = True
        elif tag == "form" and attributes.get("id") == "download-form":
            self._in_form = True
            self.form_action = attributes.get("action", "")
        elif tag == "input" and self._in_form:
            name = attributes.get("name")
            if name and attributes.get("type", "text").lower() != "submit":
                self.form_fields[name] = attributes.get("value", "")
        elif tag == "a" and attributes.get("id") == "uc-download-link" and not self._in_form:
            if self.form_action is None and attributes.get("href"):
                self.form_action = attributes["href"]
        elif tag == "p" and "uc-error-subcaption" in attributes.get("class", "").split():
            self._in_error = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "form":
            self._in_form = False
        elif tag == "p":
            self._in_error = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
        if self._in_error:
            self._error.append(data)


@dataclass(frozen=True)
class _Link:
    kind: str | None  # "file", "folder", a docs.google.com editor path name, or None
    target_id: str | None
    resource_key: str | None


def _parse_link(href: str | None) -> _Link:
    if not href:
        return _Link(None, None, None)
    parts = urlsplit(href)
    query = parse_qs(parts.query)
    resource_key = query["resourcekey"][0] if query.get("resourcekey") else None
    segments = [segment for segment in parts.path.split("/") if segment]
    kind: str | None = None
    target: str | None = None
    if "folders" in segments[:-1]:
        kind, target = "folder", segments[segments.index("folders") + 1]
    elif "d" in segments[1:-1]:
        at = segments.index("d", 1)
        kind, target = segments[at - 1], segments[at + 1]
    elif query.get("id"):
        target = query["id"][0]
    if target is not None and not _ID.match(target):
        target = None
    return _Link(kind, target, resource_key)


def _to_record(entry: _Entry) -> SourceFile | FolderRef | None:
    link = _parse_link(entry.href)
    item_id = entry.entry_id or link.target_id
    if not item_id or not _ID.match(item_id):
        return None
    name = "".join(entry.title).strip() or item_id
    if link.target_id is not None and link.target_id != item_id:
        # Listed under its own id but opening another item: a shortcut, as the API would say.
        return SourceFile(
            file_id=item_id,
            name=name,
            mime_type=SHORTCUT_MIME_TYPE,
            not_downloadable=_why_not_downloadable(SHORTCUT_MIME_TYPE),
        )
    mime_type = _icon_mime_type(entry.icon)
    if mime_type is None or mime_type == "application/octet-stream":
        mime_type = _link_mime_type(link) or _guess_mime_type(name) or mime_type
    if link.kind == "folder" or mime_type == FOLDER_MIME_TYPE:
        return FolderRef(item_id, link.resource_key)
    mime_type = mime_type or "application/octet-stream"
    return SourceFile(
        file_id=item_id,
        name=name,
        mime_type=mime_type,
        resource_key=link.resource_key,
        not_downloadable=_why_not_downloadable(mime_type),
    )


def _icon_mime_type(icon: str | None) -> str | None:
    """`https://drive-thirdparty.googleusercontent.com/16/type/image/jpeg` → `image/jpeg`."""
    if not icon:
        return None
    path = urlsplit(icon).path
    mime_type = unquote(path.split("/type/", 1)[1]).strip().lower() if "/type/" in path else ""
    return mime_type if _MIME.match(mime_type) else None


def _link_mime_type(link: _Link) -> str | None:
    if link.kind == "folder":
        return FOLDER_MIME_TYPE
    return _EDITOR_TYPES.get(link.kind or "")


def _guess_mime_type(name: str) -> str | None:
    if "." not in name:
        return None
    return image_type_by_extension(name) or mimetypes.guess_type(name)[0]


def _why_not_downloadable(mime_type: str) -> str | None:
    if mime_type == SHORTCUT_MIME_TYPE:
        return "shortcut: following shortcuts is not supported yet"
    if mime_type.startswith(GOOGLE_NATIVE_PREFIX):
        return f"Google-native file ({mime_type}) has no downloadable bytes"
    return None


def _is_html(response: httpx.Response) -> bool:
    return media_type(response) in ("text/html", "application/xhtml+xml")


def _is_attachment(response: httpx.Response) -> bool:
    # gdown's test: the file is the response that comes as an attachment.
    disposition: str = response.headers.get("content-disposition", "")
    return disposition.split(";")[0].strip().lower() == "attachment"


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
