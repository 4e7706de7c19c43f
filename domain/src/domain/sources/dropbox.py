"""Dropbox: shared folder links (`scl/fo` and the older `sh`), read with a token or an app's
key and secret through Dropbox's API, or without credentials as the zip the link downloads."""

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlunsplit

from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.sources.links import checked_length, single
from domain.sources.records import FolderRef
from domain.sources.registry import (
    Capabilities,
    InvalidLink,
    ReadingMode,
    SourceSpec,
    split_link,
)

NAME = "dropbox"
_HOSTS = {"www.dropbox.com", "dropbox.com"}
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
_FORMS = (
    "https://www.dropbox.com/scl/fo/<id>/<key>?rlkey=<rlkey> or "
    "https://www.dropbox.com/sh/<id>/<hash>"
)


class DropboxSettings(BaseSettings):
    """DROPBOX_ACCESS_TOKEN, DROPBOX_APP_KEY, DROPBOX_APP_SECRET, DROPBOX_API_URL,
    DROPBOX_CONTENT_URL, DROPBOX_WEB_URL, DROPBOX_ZIP_DIR."""

    model_config = SettingsConfigDict(env_prefix="DROPBOX_", env_file=".env", extra="ignore")

    # With a user's access token (sent as Bearer) or an app's key and secret (sent as HTTP
    # Basic, which the shared-link routes accept), folders are read through the API; with
    # neither, as the zip Dropbox's web link downloads (dl=1).
    access_token: str | None = None
    app_key: str | None = None
    app_secret: str | None = None
    api_url: str = "https://api.dropboxapi.com"
    content_url: str = "https://content.dropboxapi.com"
    web_url: str = "https://www.dropbox.com"
    # Where the zips of the key-less path are spooled (a folder's zip can be large); the
    # system's temporary directory when unset.
    zip_dir: str | None = None


@dataclass(frozen=True)
class DropboxFolder:
    # The link's stable part, `scl/fo/<id>/<key>` or `sh/<id>/<hash>`: one live import per link.
    folder_id: str
    # The link to call Dropbox with: on www.dropbox.com, with every parameter as pasted (an
    # `scl` link's `rlkey` is its access grant; Dropbox takes the rest as it gave them).
    url: str

    def root(self) -> FolderRef:
        # Its connector reaches the root through the import's link.
        return FolderRef(self.folder_id)


def claims_link(text: str, host: str) -> bool:
    return host in _HOSTS


def parse_link(url: str) -> DropboxFolder:
    """Accept both forms of a Dropbox shared folder link, with or without `dl`, `st`, `e`;
    raise InvalidLink saying what is wrong."""
    text = url.strip()
    if not text:
        raise InvalidLink("url is empty: paste a Dropbox shared folder link")
    parts, host = split_link(text)
    if parts.scheme not in {"http", "https"} or host not in _HOSTS:
        raise InvalidLink(f"not a Dropbox link: expected {_FORMS}, got host {host or '(none)'!r}")
    segments = [segment for segment in parts.path.split("/") if segment]
    if segments[:1] == ["s"] or segments[:2] == ["scl", "fi"]:
        raise InvalidLink(
            "this is a link to a single Dropbox file, not a folder: share the folder and paste "
            "its link"
        )
    if segments[:1] == ["sh"]:
        form, ids = "sh", segments[1:]
    elif segments[:2] == ["scl", "fo"]:
        form, ids = "scl/fo", segments[2:]
    else:
        raise InvalidLink(f"not a Dropbox shared folder link: expected {_FORMS}")
    if len(ids) != 2 or not all(_SEGMENT.match(part) for part in ids):
        raise InvalidLink(
            f"malformed Dropbox folder link: expected {_FORMS}, with nothing after the "
            "folder's key (paste the link of the shared folder itself)"
        )
    for part in ids:
        checked_length(part, "folder id")
    if form == "scl/fo":
        rlkey = single(parse_qs(parts.query), "rlkey")
        if rlkey is None:
            raise InvalidLink(
                "the link has no rlkey parameter, which Dropbox needs to open it: copy the "
                "whole link, including ?rlkey=..."
            )
        if not _SEGMENT.match(rlkey):
            raise InvalidLink("malformed Dropbox folder link: its rlkey is not a valid key")
        checked_length(rlkey, "rlkey")
    path = "/" + "/".join(segments)
    return DropboxFolder(
        folder_id=f"{form}/{ids[0]}/{ids[1]}",
        url=urlunsplit(("https", "www.dropbox.com", path, parts.query, "")),
    )


SPEC = SourceSpec(
    name=NAME,
    display_name="Dropbox",
    link_examples=(
        "https://www.dropbox.com/scl/fo/<id>/<key>?rlkey=<rlkey>",
        "https://www.dropbox.com/sh/<id>/<hash>",
    ),
    claims_link=claims_link,
    parse_link=parse_link,
    locator_type=DropboxFolder,
    accepts_password=True,
    modes=(
        ReadingMode(
            name="api",
            description="Dropbox API v2 with DROPBOX_ACCESS_TOKEN, or DROPBOX_APP_KEY and secret",
            capabilities=Capabilities(
                sizes_known=True,
                checksums=("dropbox_content_hash",),
                paged_listing=True,
                needs_credentials=True,
                versions_known=True,
            ),
        ),
        ReadingMode(
            name="zip",
            description="the zip the shared link downloads, without credentials",
            capabilities=Capabilities(
                sizes_known=True, checksums=("md5",), paged_listing=True, needs_credentials=False
            ),
        ),
    ),
    settings_type=DropboxSettings,
    connector="worker.sources.dropbox:build_connector",
)
