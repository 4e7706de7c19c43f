"""Which URLs an import may notify: a notify_url's syntax, and its host through the address
policy (`domain.address_policy`, with WEBHOOK_ALLOWED_NETWORKS); used by the API when a
notify_url is submitted and by the worker before every delivery attempt (the API imports this
module; it imports nothing of the worker's).

A notify_url is http or https with a host, no user or password, at most MAX_URL_LENGTH
characters, and every address its host resolves to is one the policy allows. The worker checks
the RESOLVED addresses at delivery time and connects to the address it checked."""

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from domain import address_policy
from domain.address_policy import IPAddress, IPNetwork

__all__ = [
    "ALLOWED_NETWORKS_SETTING",
    "MAX_URL_LENGTH",
    "NotifyUrl",
    "RefusedUrl",
    "check_submitted_url",
    "checked_addresses",
    "parse_notify_url",
]

MAX_URL_LENGTH = 2048
ALLOWED_NETWORKS_SETTING = "WEBHOOK_ALLOWED_NETWORKS"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class RefusedUrl(address_policy.RefusedAddress):
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


async def checked_addresses(target: NotifyUrl, allowed: Sequence[IPNetwork]) -> list[IPAddress]:
    """The addresses of the URL's host, all of which the policy allows; RefusedUrl naming the
    first one it refuses (OSError when the host does not resolve)."""
    try:
        return await address_policy.checked_addresses(
            target.host, target.port, allowed, setting=ALLOWED_NETWORKS_SETTING
        )
    except address_policy.RefusedAddress as exc:
        raise RefusedUrl(str(exc)) from None


async def check_submitted_url(url: str, allowed: Sequence[IPNetwork]) -> NotifyUrl:
    """What the API does with a submitted notify_url: its syntax, then its host's addresses,
    resolved within SUBMIT_RESOLVE_TIMEOUT_SECONDS. RefusedUrl says why it is refused."""
    target = parse_notify_url(url)
    try:
        await address_policy.check_submitted_host(
            target.host,
            target.port,
            allowed,
            setting=ALLOWED_NETWORKS_SETTING,
            what="notify_url",
        )
    except address_policy.RefusedAddress as exc:
        raise RefusedUrl(str(exc)) from None
    return target
