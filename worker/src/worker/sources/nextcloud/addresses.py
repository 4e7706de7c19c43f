"""Requests to a share's host, sent only to addresses the address policy allows.

A share's host is whatever the person who pasted the link chose, so before every request its
name is resolved and every address it has is checked (`domain.webhooks.address_policy`, with
NEXTCLOUD_ALLOWED_NETWORKS); the request then goes to the address checked, never to the name
again, which a second lookup could answer otherwise (DNS rebinding). The name still goes in
`Host`, and in TLS's SNI so that the certificate is verified for it. A resolution is reused for
a few seconds, so a folder of thousands of files costs a lookup per few seconds, not per file.
Redirects are never followed: their target would not have been checked.
"""

import socket
import time
from collections.abc import Sequence

import httpx

from domain.sources.nextcloud import refusal
from domain.webhooks.address_policy import (
    IPAddress,
    IPNetwork,
    RefusedUrl,
    address_refusal,
    resolve,
)
from worker.sources.base import PermanentSourceError, TransientSourceError

# How long a checked resolution is used before the name is resolved again.
RESOLVED_FOR_SECONDS = 10.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


class RefusedAddress(PermanentSourceError):
    """The share's host resolves to an address the policy refuses."""


class AddressGuard:
    """Resolves and checks hosts, and points requests at a checked address."""

    def __init__(self, allowed: Sequence[IPNetwork]) -> None:
        self._allowed = tuple(allowed)
        self._resolved: dict[tuple[str, int], tuple[float, IPAddress]] = {}

    async def pinned(
        self,
        http: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        content: bytes | None = None,
    ) -> httpx.Request:
        """`method url` as a request to a checked address of the URL's host."""
        target = httpx.URL(url)
        scheme = target.scheme
        host = target.host
        port = target.port or _DEFAULT_PORTS[scheme]
        address = await self._checked_address(host, port)
        host_header = f"[{host}]" if ":" in host else host
        if target.port is not None:
            host_header = f"{host_header}:{target.port}"
        extensions = {"sni_hostname": host} if scheme == "https" else {}
        return http.build_request(
            method,
            target.copy_with(host=str(address)),
            headers={**headers, "Host": host_header},
            content=content,
            extensions=extensions,
        )

    async def _checked_address(self, host: str, port: int) -> IPAddress:
        key = (host, port)
        now = time.monotonic()
        cached = self._resolved.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            addresses = await resolve(host, port)
        except RefusedUrl as exc:
            raise RefusedAddress(str(exc)) from None
        except (socket.gaierror, OSError) as exc:
            raise TransientSourceError(f"{host} does not resolve: {exc}") from exc
        if not addresses:
            raise TransientSourceError(f"{host} resolves to no address")
        # A refused address among allowed ones refuses the host: which one a connection
        # reaches is the resolver's choice, and an attacker's.
        for address in addresses:
            reason = address_refusal(address, self._allowed)
            if reason is not None:
                raise RefusedAddress(refusal(host, address, reason, self._allowed))
        self._resolved[key] = (now + RESOLVED_FOR_SECONDS, addresses[0])
        return addresses[0]
