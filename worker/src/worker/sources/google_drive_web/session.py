"""Requests to Google's signed-out Drive hosts, with redirects followed by hand.

Never by the shared client: a hop to Google's sign-in page means "not shared publicly", a hop to
the Docs editor means "a native document", and a hop to a Google host is rebased onto the
configured URLs, so the emulator can stand for drive.google.com and
drive.usercontent.google.com at once. Any other host is refused.
"""

from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from worker.http_client import retry_after_seconds
from worker.sources.base import Pacer, PermanentSourceError, TransientSourceError
from worker.sources.http import media_type, send_paced

_REAL_HOSTS = {"drive.google.com": "web", "drive.usercontent.google.com": "download"}
_SIGN_IN_HOST = "accounts.google.com"
_DOCS_HOST = "docs.google.com"
_MAX_REDIRECTS = 5
# Error and warning pages are small; never read more of an unexpected page than this.
_PAGE_LIMIT = 1024 * 1024


class SignInRequired(PermanentSourceError):
    """Google redirected to its sign-in page: the item is not public, or needs a resource key."""


class DriveWebSession:
    """GETs on the configured web and download hosts, in the source's pace."""

    def __init__(
        self, http: httpx.AsyncClient, *, web_url: str, download_url: str, pacer: Pacer
    ) -> None:
        self._http = http
        self._pacer = pacer
        self.web_url = web_url.rstrip("/")
        self.download_url = download_url.rstrip("/")
        self._own_origins = {_origin(self.web_url), _origin(self.download_url)}

    async def get(self, url: str) -> httpx.Response:
        """GET `url` as a stream (the caller closes it), following redirects by hand; raises
        `SignInRequired` or `PermanentSourceError` for a hop that is not to a Drive host."""
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
                await self._pacer.hold_off(retry_after_seconds(response) or 0.0)
            if not response.has_redirect_location:
                return response
            await response.aclose()
            target = urljoin(str(response.url), response.headers["location"])
            url = self._redirect_target(target)
        raise TransientSourceError("Google Drive redirected too many times")

    def rebase(self, url: str) -> str | None:
        """`url` moved onto the configured base URLs when it names Google's web or download host;
        unchanged when it is already on them; None for any other host."""
        parts = urlsplit(url)
        if _origin(url) in self._own_origins:
            return url
        role = _REAL_HOSTS.get((parts.hostname or "").lower())
        if role is None or parts.scheme != "https":
            return None
        base = self.web_url if role == "web" else self.download_url
        return base + urlunsplit(("", "", parts.path, parts.query, ""))

    def _redirect_target(self, target: str) -> str:
        parts = urlsplit(target)
        host = (parts.hostname or "").lower()
        if host == _SIGN_IN_HOST or "servicelogin" in parts.path.lower():
            raise SignInRequired("Google asks to sign in")
        if host == _DOCS_HOST:
            raise PermanentSourceError(
                "Google Drive sends this file to the Docs editor: Google Docs, Sheets and Slides "
                "cannot be downloaded without an API key"
            )
        rebased = self.rebase(target)
        if rebased is None:
            raise PermanentSourceError(f"Google Drive redirected to an unexpected address ({host})")
        return rebased


def classify_error(response: httpx.Response) -> TransientSourceError | PermanentSourceError:
    """Retry later for 429 and 5xx (honouring Retry-After); anything else is final."""
    status = response.status_code
    described = f"Google Drive answered HTTP {status} {response.reason_phrase}".rstrip()
    if status == 404:
        described += " (the file was not found; it may have been deleted or unshared)"
    if status == 429 or status >= 500:
        return TransientSourceError(described, retry_after=retry_after_seconds(response))
    return PermanentSourceError(described)


async def read_page(response: httpx.Response, limit: int | None = _PAGE_LIMIT) -> str:
    """The answer's body as text, at most `limit` bytes of it; a cut body is transient."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if limit is not None and size >= limit:
                break
    except (httpx.TransportError, httpx.StreamError) as exc:
        raise TransientSourceError(f"Google Drive's page was cut off: {exc!r}") from exc
    body = b"".join(chunks)
    if limit is not None:
        body = body[:limit]
    return body.decode(response.encoding or "utf-8", errors="replace")


def is_html(response: httpx.Response) -> bool:
    return media_type(response) in ("text/html", "application/xhtml+xml")


def is_attachment(response: httpx.Response) -> bool:
    # gdown's test: the file is the response that comes as an attachment.
    disposition: str = response.headers.get("content-disposition", "")
    return disposition.split(";")[0].strip().lower() == "attachment"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
