"""Where a public bucket's link may make the worker connect: only to addresses the webhook
address policy allows (`domain.webhooks.address_policy`: no loopback, private, link-local,
metadata... addresses), plus PUBLIC_S3_ALLOWED_NETWORKS.

A bucket link can name any host (`s3+https://host/...`), so without this anyone who can start
an import could make the worker read its own network and store what it finds. The policy is
applied twice:
- `check_host`, when an import starts: a refused host fails the import at once, saying why;
- in the HTTP client the connector uses (`guarded_client`): its resolver refuses, at every new
  connection, a name that resolves to an address the policy refuses, and the connection then
  goes to the addresses it checked. A name that answered with a public address when the import
  started and with an internal one since (DNS rebinding) is refused there.

The guarded client is the sources' client (`worker.http_client`: httpx over aiohttp's pool)
with that resolver; it is a client of its own only because the shared one resolves names with
aiohttp's default resolver, and because it follows no redirect (a redirect could point
anywhere; the connector follows Amazon's region redirects itself).
"""

import errno
import ipaddress
import socket
from collections.abc import Sequence
from typing import Any

import aiohttp
import httpx
from aiohttp.abc import ResolveResult
from aiohttp.resolver import DefaultResolver
from httpx_aiohttp import AiohttpTransport

from domain.webhooks.address_policy import IPAddress, IPNetwork, address_refusal, resolve
from worker.http_client import CONNECT_TIMEOUT_SECONDS

ALLOWED_NETWORKS_SETTING = "PUBLIC_S3_ALLOWED_NETWORKS"


class RefusedHost(OSError):
    """The bucket's host is at an address the policy refuses; `reason` says which and why. An
    OSError (EACCES), as aiohttp expects of a resolver, so that it fails the connection and
    shows the reason (its `strerror`) in the error."""

    def __init__(self, reason: str) -> None:
        super().__init__(errno.EACCES, reason)
        self.reason = reason


def refusal(host: str, address: IPAddress, allowed: Sequence[IPNetwork]) -> str | None:
    reason = address_refusal(address, allowed)
    if reason is None:
        return None
    names = ", ".join(str(network) for network in allowed)
    allows = f"allows only {names}" if allowed else "allows none"
    where = f"{host} is {reason}" if host == str(address) else f"{host} is at {address}, {reason}"
    return (
        f"refused to read a bucket there: {where}; {ALLOWED_NETWORKS_SETTING} {allows}"
        " (it names the networks a local S3 server may be reached at)"
    )


async def check_host(host: str, port: int, allowed: Sequence[IPNetwork]) -> None:
    """RefusedHost unless every address `host` resolves to is allowed (an unresolvable name
    is an OSError of its own)."""
    addresses = await resolve(host.strip("[]"), port)
    if not addresses:
        raise RefusedHost(f"{host} resolves to no address")
    for address in addresses:
        if (message := refusal(host, address, allowed)) is not None:
            raise RefusedHost(message)


def literal_refusal(host: str, allowed: Sequence[IPNetwork]) -> str | None:
    """Why the policy refuses a host that is an address literal; None for an allowed literal or
    a name (names are judged by the resolver, at connection time)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return refusal(host, address, allowed)


class PolicyResolver(DefaultResolver):  # type: ignore[misc,valid-type]
    """aiohttp's resolver, refusing every name that resolves to an address the policy refuses
    (one refused address refuses the name: which one a connection reaches is the resolver's
    choice, and an attacker's). aiohttp does not ask a resolver about address literals: the
    connector checks those itself (`literal_refusal`)."""

    def __init__(self, allowed: Sequence[IPNetwork]) -> None:
        super().__init__()
        self._allowed = tuple(allowed)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results: list[ResolveResult] = await super().resolve(host, port, family)
        for result in results:
            address = ipaddress.ip_address(str(result["host"]).split("%", 1)[0])
            if (message := refusal(host, address, self._allowed)) is not None:
                raise RefusedHost(message)
        return results


def guarded_client(allowed: Sequence[IPNetwork], timeout: httpx.Timeout) -> httpx.AsyncClient:
    """The sources' client (see `worker.http_client`), resolving through `PolicyResolver` and
    following no redirect."""
    tls = httpx.create_ssl_context()

    def session() -> aiohttp.ClientSession:
        # Made on first use, inside the running event loop, as aiohttp requires. aiohttp's
        # default of 100 connections: the worker's own in-flight limit bounds the requests.
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=tls, resolver=PolicyResolver(allowed)),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    return httpx.AsyncClient(
        transport=AiohttpTransport(client=session),
        timeout=timeout,
        follow_redirects=False,
    )


def connect_timeout(timeout: Any) -> httpx.Timeout:
    """The worker's source timeout (from the shared client), connecting within the worker's
    usual limit."""
    read = timeout.read if isinstance(timeout, httpx.Timeout) else None
    return httpx.Timeout(read, connect=CONNECT_TIMEOUT_SECONDS)
