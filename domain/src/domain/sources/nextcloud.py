"""Nextcloud, ownCloud and oCIS public shares ("share link", anyone with the link): folders
reached at `https://<host>[/<base>]/s/<token>` (or `/index.php/s/<token>`, or oCIS's older
`/#/s/<token>`) on any host, read anonymously through the server's public WebDAV.

Because any host can be a Nextcloud, a link is a request the worker makes to an address the
person who pasted it chose: its host goes through the address policy (`domain.address_policy`,
with NEXTCLOUD_ALLOWED_NETWORKS) three times. `parse_link` refuses, offline, an address literal
or `localhost` the policy refuses; the API then resolves the name (`check_share_host`, the
registry's `check_locator`) and refuses a host with a refused address; and the worker resolves
and checks it again at each connection, and connects to the address it checked
(`worker.sources.addresses`).
"""

import re
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain import address_policy
from domain.sources.links import checked_length, single
from domain.sources.records import FolderRef
from domain.sources.registry import (
    Capabilities,
    InvalidLink,
    ReadingMode,
    SourceSpec,
    split_link,
)

NAME = "nextcloud"
ALLOWED_NETWORKS_SETTING = "NEXTCLOUD_ALLOWED_NETWORKS"
# Share tokens are 15 letters and digits by default; Nextcloud 31 lets owners choose their own
# (letters, digits, `-`, `_`, `.`, `+`).
_TOKEN = re.compile(r"^[A-Za-z0-9_.+-]+$")
# `/s/<token>` with what may come before it (a base path, `index.php`) and after it (the
# share page's `/download`).
_SHARE_PATH = re.compile(
    r"^(?P<base>(?:/[^/]+)*?)(?:/index\.php)?/s/(?P<token>[^/]+)(?:/download)?/?$"
)
_FORMS = "https://<host>/s/<token> or https://<host>/index.php/s/<token>"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class NextcloudSettings(BaseSettings):
    """NEXTCLOUD_ALLOWED_NETWORKS, NEXTCLOUD_SPOOL_DIR."""

    model_config = SettingsConfigDict(env_prefix="NEXTCLOUD_", env_file=".env", extra="ignore")

    # Networks (CIDR) a share's host may resolve to although the address policy refuses them
    # otherwise (loopback, private, link-local, ...): a Nextcloud inside your own network. The
    # API and the worker should be given the same list.
    allowed_networks: Annotated[list[str], NoDecode] = []
    # Where a large folder's listing waits on disk between its pages (WebDAV sends a folder in
    # one answer); the system's temporary directory when unset.
    spool_dir: str | None = None

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return address_policy.comma_separated(value)

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        address_policy.parse_networks(value, setting=ALLOWED_NETWORKS_SETTING)
        return value

    def networks(self) -> tuple[address_policy.IPNetwork, ...]:
        return address_policy.parse_networks(self.allowed_networks)


@dataclass(frozen=True)
class NextcloudShare:
    # `<host[:port]>[/<base>]/s/<token>`, plus `?path=<path>` for a subfolder: one live import
    # per shared folder.
    folder_id: str
    # Where the server lives: `https://<host[:port]>[/<base>]`; its WebDAV is below it.
    base_url: str
    token: str
    # The folder below the share's root the link opens (`/` for the root itself).
    path: str = "/"

    def root(self) -> FolderRef:
        # Its connector reaches the root through the import's link.
        return FolderRef(self.folder_id)


def claims_link(text: str, host: str) -> bool:
    try:
        parts, _ = split_link(text)
    except InvalidLink:
        return False
    return bool(
        host
        and (_SHARE_PATH.match(parts.path) or _SHARE_PATH.match(_fragment_path(parts.fragment)))
    )


def parse_link(url: str) -> NextcloudShare:
    """Accept a public share link of a Nextcloud, ownCloud or oCIS server on any host; raise
    InvalidLink saying what is wrong (a host the address policy refuses included)."""
    text = url.strip()
    if not text:
        raise InvalidLink(f"url is empty: paste a share link such as {_FORMS}")
    parts, host = split_link(text)
    if parts.scheme not in {"http", "https"}:
        raise InvalidLink(f"a share link is an http or https link: expected {_FORMS}")
    if parts.username is not None or parts.password is not None:
        raise InvalidLink(
            "the link carries a user or password (user:password@host): paste the share link "
            'alone, and send a share\'s password as "password"'
        )
    if not host:
        raise InvalidLink(f"the link has no host: expected {_FORMS}")
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidLink(f"the link cannot be read: {exc}") from None
    match = _SHARE_PATH.match(parts.path) or _SHARE_PATH.match(_fragment_path(parts.fragment))
    if match is None:
        raise InvalidLink(f"not a public share link: expected {_FORMS}")
    token = unquote(match.group("token"))
    if not _TOKEN.match(token):
        raise InvalidLink("malformed share link: its token holds characters no share token has")
    checked_length(token, "share token")
    path = _subfolder(single(parse_qs(parts.query), "path"))
    refusal = address_policy.refusal_without_dns(
        host, NextcloudSettings().networks(), setting=ALLOWED_NETWORKS_SETTING
    )
    if refusal is not None:
        raise InvalidLink(refusal)
    netloc = _netloc(host.rstrip("."), port)
    base = match.group("base")
    folder_id = f"{netloc}{base}/s/{token}" + (f"?path={path}" if path != "/" else "")
    return NextcloudShare(
        folder_id=checked_length(folder_id, "address"),
        base_url=f"{parts.scheme}://{netloc}{base}",
        token=token,
        path=path,
    )


async def check_share_host(share: NextcloudShare) -> None:
    """The share's host, resolved without blocking, must be at addresses the policy allows
    (`SourceSpec.check_locator`); InvalidLink naming NEXTCLOUD_ALLOWED_NETWORKS otherwise."""
    parts = urlsplit(share.base_url)
    try:
        await address_policy.check_submitted_host(
            parts.hostname or "",
            parts.port or _DEFAULT_PORTS[parts.scheme],
            NextcloudSettings().networks(),
            setting=ALLOWED_NETWORKS_SETTING,
            what="the share",
        )
    except address_policy.RefusedAddress as exc:
        raise InvalidLink(str(exc)) from None


def _fragment_path(fragment: str) -> str:
    """oCIS's older links carry the share in the fragment: `https://host/#/s/<token>`."""
    return fragment.split("?", 1)[0] if fragment.startswith("/s/") else ""


def _subfolder(value: str | None) -> str:
    """The `?path=` of a link opened on a subfolder of the share, as `/a/b`."""
    if not value:
        return "/"
    segments = [segment for segment in value.split("/") if segment]
    if any(segment in (".", "..") for segment in segments):
        raise InvalidLink("the link's path= names a folder outside the share")
    return checked_length("/" + "/".join(segments), "path")


def _netloc(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port is not None else shown


SPEC = SourceSpec(
    name=NAME,
    display_name="Nextcloud / ownCloud",
    link_examples=(
        "https://<host>/s/<token>",
        "https://<host>/index.php/s/<token>",
        "https://<host>/s/<token>?path=/<subfolder>",
    ),
    claims_link=claims_link,
    parse_link=parse_link,
    locator_type=NextcloudShare,
    accepts_password=True,
    modes=(
        ReadingMode(
            name="webdav",
            description=(
                "the server's public WebDAV, without credentials (Nextcloud 29+, older "
                "Nextcloud and ownCloud 10, oCIS)"
            ),
            capabilities=Capabilities(
                sizes_known=True,
                checksums=("md5", "sha1", "sha256"),
                paged_listing=True,
                needs_credentials=False,
                versions_known=True,
            ),
        ),
    ),
    settings_type=NextcloudSettings,
    connector="worker.sources.nextcloud:build_connector",
    check_locator=check_share_host,
)
