"""Which addresses the system may reach when someone else chose the host: the one policy for a
webhook's notify_url (WEBHOOK_ALLOWED_NETWORKS), a Nextcloud share's server
(NEXTCLOUD_ALLOWED_NETWORKS) and a public bucket's endpoint (PUBLIC_S3_ALLOWED_NETWORKS). The
API applies it when such a URL or link is submitted, the worker before every connection; each
caller names the setting that would allow what it refuses, so the refusal says how to allow it.

Every address a host resolves to must be globally routable: loopback, private, link-local (the
cloud metadata address 169.254.169.254 among them), shared (CGNAT), unique-local, multicast,
unspecified and reserved addresses are refused, and so is an IPv6 address that carries one of
those (IPv4-mapped, 6to4, Teredo), unless the setting names a network that holds it. Otherwise
anyone who can start an import could make the worker send requests inside its own network.

The worker checks the RESOLVED addresses when it connects and connects to the address it
checked: a name that resolved to a public address when the link was submitted, and to an
internal one since (DNS rebinding), is refused then.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The API's check of a submitted host waits this long for DNS, then refuses it.
SUBMIT_RESOLVE_TIMEOUT_SECONDS = 3.0
_METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
}
_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
# Names that always mean this machine, judged without DNS (RFC 6761).
_LOCAL_NAMES = ("localhost", "localhost.localdomain")


class RefusedAddress(ValueError):
    """A host the policy refuses, or one that cannot be judged (no valid name, no address);
    its message says why, in words for the person who gave it."""


def parse_networks(items: Iterable[str], *, setting: str | None = None) -> tuple[IPNetwork, ...]:
    """A setting's CIDRs as networks; a value that is no CIDR raises ValueError naming
    `setting`."""
    networks: list[IPNetwork] = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(
                f"{setting or 'allowed networks'}: {item!r} is not a network: {exc}"
            ) from None
    return tuple(networks)


def comma_separated(value: object) -> object:
    """A settings value given as `a, b` as a list (the services' and the sources' settings)."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def address_refusal(address: IPAddress, allowed: Sequence[IPNetwork]) -> str | None:
    """Why the policy refuses to reach `address` (e.g. "a private address"), or None when it
    is globally routable or inside an allowed network."""
    if any(address in network for network in allowed):
        return None
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv6 address that reaches an IPv4 one is judged by that one.
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None:
            inner = address_refusal(embedded, allowed)
            return None if inner is None else f"an IPv6 address of {embedded}, {inner}"
    if address in _METADATA_ADDRESSES:
        return "the cloud metadata address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED_ADDRESS_SPACE:
        return "a shared (CGNAT) address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "a site-local address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        unique_local = isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL
        return "a unique-local address" if unique_local else "a private address"
    if not address.is_global:
        return "an address that is not globally routable"
    return None


def refusal_message(
    host: str, address: IPAddress, reason: str, allowed: Sequence[IPNetwork], *, setting: str
) -> str:
    """The one wording of a refusal, naming the setting that would allow it, e.g. "refused:
    example.internal resolves to 10.0.0.5, a private address; NEXTCLOUD_ALLOWED_NETWORKS allows
    none"."""
    names = ", ".join(str(network) for network in allowed)
    allows = f"allows only {names}" if allowed else "allows none"
    if literal(host) == address:
        where = f"{host} is {reason}"
    else:
        where = f"{host} resolves to {address}, {reason}"
    return f"refused: {where}; {setting} {allows}"


def literal(host: str) -> IPAddress | None:
    """The address a host is, when it is an address literal (`[::1]` too)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def refusal_without_dns(host: str, allowed: Sequence[IPNetwork], *, setting: str) -> str | None:
    """What can be judged of a host without DNS: an address literal, or a name that always means
    this machine (`localhost`). The refusal, or None (a name is judged by what it resolves to)."""
    name = host.strip("[]").rstrip(".").lower()
    address = literal(name)
    if address is None and (name in _LOCAL_NAMES or name.endswith(".localhost")):
        address = ipaddress.ip_address("127.0.0.1")
    if address is None:
        return None
    reason = address_refusal(address, allowed)
    if reason is None:
        return None
    return refusal_message(name, address, reason, allowed, setting=setting)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to (an address literal is itself), without duplicates,
    in the resolver's order, looked up without blocking the event loop. Raises OSError
    (socket.gaierror) when it does not resolve, and RefusedAddress when it is no host name."""
    if (address := literal(host)) is not None:
        return [address]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except UnicodeError:
        # The IDNA codec's refusal of a name no DNS could hold (an empty or too long label).
        raise RefusedAddress(f"{host!r} is not a valid host name") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # An IPv6 sockaddr may carry a zone (`fe80::1%eth0`): the address is what is judged.
        resolved = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if resolved not in addresses:
            addresses.append(resolved)
    return addresses


async def checked_addresses(
    host: str, port: int, allowed: Sequence[IPNetwork], *, setting: str
) -> list[IPAddress]:
    """The addresses of `host`, all of which the policy allows; RefusedAddress naming the first
    one it refuses. A refused address among allowed ones refuses the host: which one a
    connection would reach is the resolver's choice, and an attacker's. OSError when the name
    does not resolve."""
    addresses = await resolve(host, port)
    if not addresses:
        raise RefusedAddress(f"refused: {host} resolves to no address")
    for address in addresses:
        reason = address_refusal(address, allowed)
        if reason is not None:
            raise RefusedAddress(refusal_message(host, address, reason, allowed, setting=setting))
    return addresses


async def check_submitted_host(
    host: str, port: int, allowed: Sequence[IPNetwork], *, setting: str, what: str
) -> None:
    """What the API does with a host someone submitted (`what`: "notify_url", "the share"):
    its addresses, resolved within SUBMIT_RESOLVE_TIMEOUT_SECONDS, all allowed. RefusedAddress
    says why not."""
    try:
        async with asyncio.timeout(SUBMIT_RESOLVE_TIMEOUT_SECONDS):
            await checked_addresses(host, port, allowed, setting=setting)
    except TimeoutError:
        raise RefusedAddress(
            f"{what}'s host {host} did not resolve within {SUBMIT_RESOLVE_TIMEOUT_SECONDS:g} s"
        ) from None
    except OSError as exc:
        raise RefusedAddress(f"{what}'s host {host} does not resolve: {exc}") from None
