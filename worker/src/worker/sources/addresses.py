"""Where a link that names any host (a Nextcloud share, a public bucket) may make the worker
connect: only to addresses the address policy allows (`domain.address_policy`), plus the
networks the source's own setting names (NEXTCLOUD_ALLOWED_NETWORKS,
PUBLIC_S3_ALLOWED_NETWORKS). Without this, anyone who can start an import could make the worker
read its own network and store what it finds.

Both sources apply it the same way:
- `check_host`, when a folder is checked: a refused host fails the import at once, saying why
  and which setting would allow it;
- `literal_refusal` before each request, for a host that is an address literal (aiohttp never
  asks a resolver about those);
- the client they read with (`guarded_client`): the sources' client (`worker.http_client`, one
  construction for every source) with `PolicyResolver`, which refuses, at every new connection,
  a name that resolves to a refused address; the connection then goes to the addresses it
  checked. A name that answered with a public address when the import started and with an
  internal one since (DNS rebinding) is refused there. It follows no redirect: a redirect could
  point anywhere.
"""

import errno
import ipaddress
import socket
from collections.abc import Sequence

import httpx
from aiohttp.abc import ResolveResult
from aiohttp.resolver import DefaultResolver

from domain.address_policy import (
    IPNetwork,
    RefusedAddress,
    address_refusal,
    checked_addresses,
    literal,
    refusal_message,
)
from worker.sources.base import ConnectorDeps

__all__ = ["PolicyResolver", "RefusedHost", "check_host", "guarded_client", "literal_refusal"]


class RefusedHost(OSError):
    """A host at an address the policy refuses; `reason` says which, why, and which setting
    would allow it. An OSError (EACCES), as aiohttp expects of a resolver, so that it fails the
    connection and shows the reason (its `strerror`) in the error."""

    def __init__(self, reason: str) -> None:
        super().__init__(errno.EACCES, reason)
        self.reason = reason


async def check_host(host: str, port: int, allowed: Sequence[IPNetwork], *, setting: str) -> None:
    """RefusedHost unless every address `host` resolves to is allowed (an unresolvable name is
    an OSError of its own)."""
    try:
        await checked_addresses(host.strip("[]"), port, allowed, setting=setting)
    except RefusedAddress as exc:
        raise RefusedHost(str(exc)) from None


def literal_refusal(host: str, allowed: Sequence[IPNetwork], *, setting: str) -> str | None:
    """Why the policy refuses a host that is an address literal; None for an allowed literal or
    a name (names are judged by the resolver, at connection time)."""
    address = literal(host)
    if address is None:
        return None
    reason = address_refusal(address, allowed)
    if reason is None:
        return None
    return refusal_message(host.strip("[]"), address, reason, allowed, setting=setting)


class PolicyResolver(DefaultResolver):  # type: ignore[misc,valid-type]
    """aiohttp's resolver, refusing every name that resolves to an address the policy refuses
    (one refused address refuses the name: which one a connection reaches is the resolver's
    choice, and an attacker's). Made inside the running event loop, as aiohttp's is."""

    def __init__(self, allowed: Sequence[IPNetwork], *, setting: str) -> None:
        super().__init__()
        self._allowed = tuple(allowed)
        self._setting = setting

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results: list[ResolveResult] = await super().resolve(host, port, family)
        for result in results:
            address = ipaddress.ip_address(str(result["host"]).split("%", 1)[0])
            reason = address_refusal(address, self._allowed)
            if reason is not None:
                raise RefusedHost(
                    refusal_message(host, address, reason, self._allowed, setting=self._setting)
                )
        return results


def guarded_client(
    deps: ConnectorDeps, allowed: Sequence[IPNetwork], *, setting: str
) -> httpx.AsyncClient:
    """The sources' client (see `worker.http_client`), resolving through `PolicyResolver` and
    following no redirect."""
    allowed = tuple(allowed)
    return deps.client_with_resolver(lambda: PolicyResolver(allowed, setting=setting))
