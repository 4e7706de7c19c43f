"""Which URLs an import may notify: the one policy, used by the API when a notify_url is
submitted and by the worker before every delivery attempt (the API imports this module; it
imports nothing of the worker's).

A notify_url is http or https with a host, no user or password, at most MAX_URL_LENGTH
characters. Every address its host resolves to must be globally routable: loopback, private,
link-local (the cloud metadata address 169.254.169.254 among them), shared (CGNAT),
unique-local, multicast, unspecified and reserved addresses are refused, and so is an IPv6
address that carries one of those (IPv4-mapped, 6to4, Teredo), unless WEBHOOK_ALLOWED_NETWORKS
names a network that holds it. Otherwise a webhook would let anyone who can start an import
make the worker send requests inside its own network.

The worker checks the RESOLVED addresses at delivery time and connects to the address it
checked: a name that resolved to a public address when the import was submitted, and to an
internal one since (DNS rebinding), is refused then."""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048
# The API's check of a submitted URL waits this long for DNS, then refuses it.
SUBMIT_RESOLVE_TIMEOUT_SECONDS = 3.0
ALLOWED_NETWORKS_SETTING = "WEBHOOK_ALLOWED_NETWORKS"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
}
_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


class RefusedUrl(ValueError):
    """A notify_url the policy refuses; its message says why, in words for the person who
    gave it."""


@dataclass(frozen=True)
class NotifyUrl:
    """A notify_url whose syntax passed: what a request to it needs."""

    url: str
    scheme: str
    host: str
    port: int
    # The path with its query, as the request line carries it.
    target: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def parse_networks(items: Iterable[str]) -> tuple[IPNetwork, ...]:
    """WEBHOOK_ALLOWED_NETWORKS as networks; a value that is no CIDR raises ValueError."""
    networks: list[IPNetwork] = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(
                f"{ALLOWED_NETWORKS_SETTING}: {item!r} is not a network: {exc}"
            ) from None
    return tuple(networks)


def comma_separated(value: object) -> object:
    """A settings value given as `a, b` as a list (the API's and the worker's settings)."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def parse_notify_url(url: str) -> NotifyUrl:
    """The URL's parts, or RefusedUrl saying what is wrong with its syntax."""
    if len(url) > MAX_URL_LENGTH:
        raise RefusedUrl(f"notify_url is {len(url)} characters long; at most {MAX_URL_LENGTH}")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise RefusedUrl("notify_url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedUrl(f"notify_url is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise RefusedUrl(f"notify_url must be an http or https URL, not {parts.scheme or 'none'!r}")
    if parts.username is not None or parts.password is not None:
        raise RefusedUrl("notify_url must not carry a user or password (user:password@host)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise RefusedUrl("notify_url has no host")
    if parts.fragment:
        raise RefusedUrl("notify_url must not have a #fragment: it is never sent")
    return NotifyUrl(
        url=url,
        scheme=scheme,
        host=host,
        port=port or _DEFAULT_PORTS[scheme],
        target=_target(parts),
    )


def _target(parts: SplitResult) -> str:
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def address_refusal(address: IPAddress, allowed: Sequence[IPNetwork]) -> str | None:
    """Why the policy refuses to send to `address` (e.g. "a private address"), or None when it
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
    host: str, address: IPAddress, reason: str, allowed: Sequence[IPNetwork]
) -> str:
    """E.g. "refused: example.internal resolves to 10.0.0.5, a private address;
    WEBHOOK_ALLOWED_NETWORKS allows none"."""
    names = ", ".join(str(network) for network in allowed)
    allows = f"allows only {names}" if allowed else "allows none"
    if _literal(host) == address:
        where = f"{host} is {reason}"
    else:
        where = f"{host} resolves to {address}, {reason}"
    return f"refused: {where}; {ALLOWED_NETWORKS_SETTING} {allows}"


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to (an address literal is itself), without duplicates,
    in the resolver's order. Raises OSError (socket.gaierror) when it does not resolve, and
    RefusedUrl when it is no host name at all."""
    if (literal := _literal(host)) is not None:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except UnicodeError:
        # The IDNA codec's refusal of a name no DNS could hold (an empty or too long label).
        raise RefusedUrl(f"{host!r} is not a valid host name") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # An IPv6 sockaddr may carry a zone (`fe80::1%eth0`): the address is what is judged.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def checked_addresses(target: NotifyUrl, allowed: Sequence[IPNetwork]) -> list[IPAddress]:
    """The addresses of the URL's host, all of which the policy allows; RefusedUrl naming the
    first one it refuses. A refused address among allowed ones refuses the URL: which one a
    connection would reach is the resolver's choice, and an attacker's."""
    addresses = await resolve(target.host, target.port)
    if not addresses:
        raise RefusedUrl(f"refused: {target.host} resolves to no address")
    for address in addresses:
        reason = address_refusal(address, allowed)
        if reason is not None:
            raise RefusedUrl(refusal_message(target.host, address, reason, allowed))
    return addresses


async def check_submitted_url(url: str, allowed: Sequence[IPNetwork]) -> NotifyUrl:
    """What the API does with a submitted notify_url: its syntax, then its host's addresses,
    resolved within SUBMIT_RESOLVE_TIMEOUT_SECONDS. RefusedUrl says why it is refused."""
    target = parse_notify_url(url)
    try:
        async with asyncio.timeout(SUBMIT_RESOLVE_TIMEOUT_SECONDS):
            await checked_addresses(target, allowed)
    except TimeoutError:
        raise RefusedUrl(
            f"notify_url's host {target.host} did not resolve within "
            f"{SUBMIT_RESOLVE_TIMEOUT_SECONDS:g} s"
        ) from None
    except OSError as exc:
        raise RefusedUrl(f"notify_url's host {target.host} does not resolve: {exc}") from None
    return target
