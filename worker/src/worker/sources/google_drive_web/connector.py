"""The key-less Drive connector: lists a folder from its embedded view, and downloads a file
through the virus-scan warning when Google puts one in front of it (see the package docstring)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx

from worker.sources.base import (
    FolderPage,
    FolderRef,
    FolderUnavailable,
    ImportLink,
    Pacer,
    PermanentSourceError,
    SourceFile,
    SourceQuotaExceeded,
    TransientSourceError,
)
from worker.sources.google_drive_web.pages import (
    DownloadPage,
    FolderView,
    parse_download_page,
    parse_folder_view,
    to_record,
    why_not_downloadable,
)
from worker.sources.google_drive_web.session import (
    DriveWebSession,
    SignInRequired,
    classify_error,
    is_attachment,
    is_html,
    read_page,
)
from worker.sources.http import body_chunks

# A large file gets one warning page; a second one after submitting it means something changed.
_MAX_CONFIRMATIONS = 2
_NOT_PUBLIC = (
    "was not found or is not shared publicly (share it as 'Anyone with the link', and paste "
    "the whole link: some links carry a resource key)"
)


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
        self._session = DriveWebSession(
            http, web_url=web_url, download_url=download_url, pacer=pacer
        )

    def for_link(self, link: ImportLink) -> "GoogleDriveWebConnector":
        # Every folder and file is reached by its id and resource key alone.
        return self

    async def check_folder(self, folder: FolderRef) -> str | None:
        return (await self._read_folder(folder)).title or None

    async def list_page(self, folder: FolderRef, page_token: str | None) -> FolderPage:
        # The embedded view has no pages: every child comes at once, so there is never a token.
        page = FolderPage()
        seen: set[str] = set()
        for entry in (await self._read_folder(folder)).entries:
            record = to_record(entry)
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
        why_not = why_not_downloadable(file.mime_type)
        if why_not is not None:
            raise PermanentSourceError(why_not)
        response = await self._open_download(file)
        try:
            yield _checked_chunks(response)
        finally:
            await response.aclose()

    async def _read_folder(self, folder: FolderRef) -> FolderView:
        params = {"id": folder.folder_id}
        if folder.resource_key:
            params["resourcekey"] = folder.resource_key
        url = str(httpx.URL(f"{self._session.web_url}/embeddedfolderview", params=params))
        unavailable = f"the Google Drive folder {folder.folder_id} {_NOT_PUBLIC}"
        try:
            response = await self._session.get(url)
        except SignInRequired as exc:
            raise FolderUnavailable(f"{unavailable}: Google asks to sign in") from exc
        except PermanentSourceError as exc:
            raise FolderUnavailable(f"{unavailable}: {exc}") from exc
        try:
            if response.status_code == 404:
                raise FolderUnavailable(unavailable)
            if response.status_code != 200:
                error = classify_error(response)
                if isinstance(error, TransientSourceError):
                    raise error
                raise FolderUnavailable(f"{unavailable}: {error}")
            if not is_html(response):
                raise FolderUnavailable(
                    f"{unavailable}: Google Drive answered with "
                    f"{response.headers.get('content-type', 'no content type')}, not a folder page"
                )
            # A folder's page holds every child at once: it is read whole, however long.
            view = parse_folder_view(await read_page(response, limit=None))
        finally:
            await response.aclose()
        if view is None:
            raise FolderUnavailable(
                f"{unavailable}: the page Google Drive sent has no folder listing (it may need "
                "a sign-in, or Google may have changed the page)"
            )
        return view

    async def _open_download(self, file: SourceFile) -> httpx.Response:
        """The streaming response that carries the file as an attachment; every other answer
        is closed and turned into an error (or, for the virus-scan warning, followed)."""
        params = {"id": file.file_id, "export": "download", "confirm": "t"}
        if file.resource_key:
            params["resourcekey"] = file.resource_key
        url = str(httpx.URL(f"{self._session.download_url}/download", params=params))
        for _ in range(_MAX_CONFIRMATIONS + 1):
            try:
                response = await self._session.get(url)
            except SignInRequired as exc:
                raise PermanentSourceError(
                    f"Google asks to sign in to download {file.file_id}: the file is not shared "
                    "publicly or its resource key is missing"
                ) from exc
            if response.status_code == 200 and is_attachment(response):
                return response
            try:
                if response.status_code != 200:
                    raise classify_error(response)
                if not is_html(response):
                    raise PermanentSourceError(
                        "Google Drive sent "
                        f"{response.headers.get('content-type', 'a response')} without an "
                        "attachment instead of the file"
                    )
                page = parse_download_page(await read_page(response))
            finally:
                await response.aclose()
            if page.form_action is not None:
                url = self._form_target(page, str(response.url))
                continue
            raise _page_instead_of_file(page)
        raise TransientSourceError("Google Drive kept asking to confirm the download")

    def _form_target(self, page: DownloadPage, page_url: str) -> str:
        """The URL the virus-scan form submits to: its action with its fields as the query.

        The current form is a GET to drive.usercontent.google.com/download; older pages used a
        link or a POST whose action already held every parameter, and those are sent the same
        way (as a GET)."""
        action = urlsplit(urljoin(page_url, page.form_action or ""))
        params = dict(parse_qsl(action.query, keep_blank_values=True)) | page.form_fields
        target = urlunsplit((action.scheme, action.netloc, action.path, urlencode(params), ""))
        rebased = self._session.rebase(target)
        if rebased is None:
            raise PermanentSourceError(
                f"Google Drive's virus-scan page sends the download to an unexpected address "
                f"({action.netloc})"
            )
        return rebased


def _page_instead_of_file(page: DownloadPage) -> SourceQuotaExceeded | PermanentSourceError:
    if "quota exceeded" in page.title.lower():
        return SourceQuotaExceeded(
            "Google Drive's download quota for this file is exceeded (too many people "
            "downloaded it recently); try again later, possibly hours later"
        )
    described = page.title or "an untitled page"
    if page.error:
        described += f": {page.error}"
    return PermanentSourceError(
        f"Google Drive answered with a page instead of the file ({described})"
    )


async def _checked_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives; a cut connection, or fewer bytes than Content-Length announced,
    is a transient error so the transfer is retried rather than stored short."""
    announced = _content_length(response)
    async for chunk in body_chunks(response):
        yield chunk
    received = response.num_bytes_downloaded
    if announced is not None and received < announced:
        raise TransientSourceError(f"download cut off after {received} of {announced} bytes")


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
