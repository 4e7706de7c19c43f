"""The HTTP clients of the worker (sources, and the object store's single PUTs): httpx's API
over aiohttp's connection pool.

httpx's own transport parses responses in Python (h11): issue 12 measured 2.3 CPU-ms per
streamed GET through it and 0.7 through this one, and a worker moving many small files spends
most of its CPU there (`bench/transfer_floor.py` measures the whole transfer). The connectors
still only see `httpx` (requests, responses, exceptions): `httpx-aiohttp` maps aiohttp's
failures onto httpx's `TransportError` family, which `sources/http.py` turns into
`TransientSourceError`. Redirects, cookies and timeouts stay httpx's business.
"""

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from worker.settings import Settings

CONNECT_TIMEOUT_SECONDS = 10.0
# aiohttp's default header limit (8 KiB a line) is below what httpx accepts; a Dropbox download
# carries the file's metadata as JSON in one header, so allow what httpx did.
_MAX_HEADER_BYTES = 64 * 1024


def create_source_client(settings: Settings) -> httpx.AsyncClient:
    """The client for every call to a source: `source_timeout_seconds` for each read (connect
    within 10 s), redirects followed unless a connector says otherwise, and connections for
    twice the files or jobs a worker runs at once."""
    connections = 2 * max(settings.transfer_concurrency, settings.worker_concurrency)
    return _client(connections, settings.source_timeout_seconds, follow_redirects=True)


def create_store_client(settings: Settings) -> httpx.AsyncClient:
    """The client for the object store's single PUTs (see storage/object_store.py): no redirects, a
    connection per file in flight."""
    return _client(
        settings.transfer_concurrency, settings.source_timeout_seconds, follow_redirects=False
    )


def _client(
    connections: int, timeout_seconds: float, *, follow_redirects: bool
) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections)
    # The certificates httpx would trust (certifi, or SSL_CERT_FILE), not aiohttp's default.
    tls = httpx.create_ssl_context()

    def session() -> aiohttp.ClientSession:
        # Made on first use, inside the running event loop, as aiohttp requires.
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=connections,
                keepalive_timeout=limits.keepalive_expiry or 5.0,
                ssl=tls,
            ),
            # httpx keeps the cookies; a second jar in aiohttp would send them twice.
            cookie_jar=aiohttp.DummyCookieJar(),
            max_line_size=_MAX_HEADER_BYTES,
            max_field_size=_MAX_HEADER_BYTES,
        )

    return httpx.AsyncClient(
        transport=AiohttpTransport(client=session),
        timeout=httpx.Timeout(timeout_seconds, connect=CONNECT_TIMEOUT_SECONDS),
        limits=limits,
        follow_redirects=follow_redirects,
    )


def create_webhook_client(settings: Settings) -> httpx.AsyncClient:
    """The client for webhook deliveries: httpx's own transport (whose `sni_hostname` lets a
    request go to a checked address while TLS verifies the URL's name), no proxy from the
    environment (the address policy judges where the request really goes), no redirects, and
    no connection kept alive (a kept connection to an address would serve the next request to
    the same address, whatever name that one was checked for)."""
    return httpx.AsyncClient(
        trust_env=False,
        follow_redirects=False,
        timeout=settings.webhook_timeout_seconds,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds from now, as a number of seconds or an HTTP date; None when
    absent or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
