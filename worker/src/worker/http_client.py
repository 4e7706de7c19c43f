"""The HTTP clients of the worker: for the sources, httpx's API over aiohttp's connection pool;
for the object store's own requests (single PUTs, GETs, DELETEs, probes), aiohttp alone.

httpx's own transport parses responses in Python (h11): issue 12 measured 2.3 CPU-ms per
streamed GET through it and 0.7 through this one, and a worker moving many small files spends
most of its CPU there (`bench/transfer_floor.py` measures the whole transfer). The connectors
still only see `httpx` (requests, responses, exceptions): `httpx-aiohttp` maps aiohttp's
failures onto httpx's `TransportError` family, which `sources/http.py` turns into
`TransientSourceError`. Redirects, cookies and timeouts stay httpx's business.

What httpx adds above the transport is not free either (issue 23, py-spy during `make bench`:
a fifth of a worker's CPU): parsing each URL again, building a `Request`, and handing every
response to the standard library's cookie jar through urllib's request and response
stand-ins, Set-Cookie or not. So the cookie jar is skipped for an answer that sets no cookie
(it would find nothing to take), and the object store, whose requests are ours (signed, no
redirect, no cookie, a fixed shape), talks to aiohttp directly.

A source whose links name any host (a Nextcloud share, a public bucket) gets a client of the
same construction with a resolver of its own, which refuses names that resolve to addresses the
address policy refuses, and no redirects (`worker.sources.addresses`): one construction, one
set of timeouts, TLS and pool limits for every source.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver
from httpx_aiohttp import AiohttpTransport

from worker.settings import Settings

CONNECT_TIMEOUT_SECONDS = 10.0
# httpx's default keep-alive expiry, which these clients kept when httpx set up the pool.
_KEEPALIVE_SECONDS = 5.0
# aiohttp's default header limit (8 KiB a line) is below what httpx accepts; a Dropbox download
# carries the file's metadata as JSON in one header, so allow what httpx did.
_MAX_HEADER_BYTES = 64 * 1024


def create_source_client(
    settings: Settings,
    *,
    resolver: Callable[[], AbstractResolver] | None = None,
    follow_redirects: bool = True,
) -> httpx.AsyncClient:
    """The client for every call to a source: `source_timeout_seconds` for each read (connect
    within 10 s), redirects followed unless a connector or this call says otherwise, and
    connections for twice the files or jobs a worker runs at once. `resolver` makes the resolver
    (in the running event loop, as aiohttp requires) that replaces aiohttp's own for every name
    the client connects to (see `worker.sources.addresses`)."""
    connections = 2 * max(settings.transfer_concurrency, settings.worker_concurrency)
    return _client(
        connections,
        settings.source_timeout_seconds,
        follow_redirects=follow_redirects,
        resolver=resolver,
    )


def create_store_session(settings: Settings) -> aiohttp.ClientSession:
    """The object store's own session (see storage/object_store.py), made inside the running
    event loop: a connection per file in flight, `source_timeout_seconds` for each read and for
    a free connection, connect within 10 s; no cookies."""
    timeout = aiohttp.ClientTimeout(
        sock_connect=CONNECT_TIMEOUT_SECONDS,
        sock_read=settings.source_timeout_seconds,
        connect=settings.source_timeout_seconds,
    )
    return _session(settings.transfer_concurrency, timeout)


def _client(
    connections: int,
    timeout_seconds: float,
    *,
    follow_redirects: bool,
    resolver: Callable[[], AbstractResolver] | None = None,
) -> httpx.AsyncClient:
    client = httpx.AsyncClient(
        # Made on first use, inside the running event loop, as aiohttp requires.
        # httpx's timeouts come with each request (httpx-aiohttp passes them on).
        transport=AiohttpTransport(
            client=lambda: _session(connections, aiohttp.ClientTimeout(), resolver)
        ),
        timeout=httpx.Timeout(timeout_seconds, connect=CONNECT_TIMEOUT_SECONDS),
        limits=httpx.Limits(max_connections=connections),
        follow_redirects=follow_redirects,
    )
    # httpx's `cookies` setter would copy the jar into a plain `Cookies`: the jar is swapped
    # where httpx keeps it (tests/worker/test_http_client.py checks it still is).
    client._cookies = _CookiesSetByAnswers(client.cookies)
    return client


def _session(
    connections: int,
    timeout: aiohttp.ClientTimeout,
    resolver: Callable[[], AbstractResolver] | None = None,
) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=connections,
            keepalive_timeout=_KEEPALIVE_SECONDS,
            # The certificates httpx would trust (certifi, or SSL_CERT_FILE), not aiohttp's.
            ssl=httpx.create_ssl_context(),
            resolver=resolver() if resolver is not None else None,
        ),
        # httpx keeps the sources' cookies; a second jar in aiohttp would send them twice.
        cookie_jar=aiohttp.DummyCookieJar(),
        max_line_size=_MAX_HEADER_BYTES,
        max_field_size=_MAX_HEADER_BYTES,
        # The bytes as sent: httpx decodes the sources' answers itself; the store's are ours.
        auto_decompress=False,
        timeout=timeout,
    )


class _CookiesSetByAnswers(httpx.Cookies):
    """httpx's cookie jar, which reads an answer only when it sets a cookie: the standard
    library's jar takes cookies from Set-Cookie and Set-Cookie2 alone, and building its urllib
    stand-ins for every answer cost more than a signed S3 request (issue 23)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


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
