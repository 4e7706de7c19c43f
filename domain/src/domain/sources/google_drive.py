"""Google Drive: every common form of a folder link, read with an API key through Drive's
documented API, or without one through its public web pages."""

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

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

NAME = "google_drive"
_HOSTS = {"drive.google.com", "docs.google.com"}
_ID = r"[A-Za-z0-9_-]{10,}"
_FOLDER_IN_PATH = re.compile(rf"/folders/({_ID})(?:/|$)")
_BARE_ID = re.compile(rf"^{_ID}$")
# Legacy forms that carry the folder id as ?id=
_ID_QUERY_PATHS = {"/open", "/folderview", "/embeddedfolderview"}
_FILE_PATH = re.compile(r"/file/d/|/(document|spreadsheets|presentation|forms)/d/|/uc$")


class GoogleDriveSettings(BaseSettings):
    """GOOGLE_API_KEY, GOOGLE_DRIVE_API_URL, GOOGLE_DRIVE_WEB_URL, GOOGLE_DRIVE_DOWNLOAD_URL."""

    model_config = SettingsConfigDict(env_prefix="GOOGLE_", env_file=".env", extra="ignore")

    # With a key, folders are read through Drive's API; without, through its public pages.
    api_key: str | None = None
    drive_api_url: str = "https://www.googleapis.com"
    drive_web_url: str = "https://drive.google.com"
    drive_download_url: str = "https://drive.usercontent.google.com"


@dataclass(frozen=True)
class GoogleDriveFolder:
    folder_id: str
    # Drive's resource key of a folder shared by link before 2021's security update.
    resource_key: str | None = None

    def root(self) -> FolderRef:
        return FolderRef(self.folder_id, self.resource_key)


def claims_link(text: str, host: str) -> bool:
    return host in _HOSTS or bool(_BARE_ID.match(text))


def parse_link(url: str) -> GoogleDriveFolder:
    """Accept every common form of a Drive folder link (or a bare folder id); raise
    InvalidLink saying what is wrong."""
    text = url.strip()
    if not text:
        raise InvalidLink("url is empty: paste a Google Drive folder link")
    if _BARE_ID.match(text):
        return GoogleDriveFolder(folder_id=checked_length(text, "folder id"))
    parts, host = split_link(text)
    if parts.scheme not in {"http", "https"} or host not in _HOSTS:
        raise InvalidLink(
            f"not a Google Drive link: expected https://drive.google.com/drive/folders/<id>, "
            f"got host {host or '(none)'!r}"
        )
    query = parse_qs(parts.query)
    resource_key = single(query, "resourcekey")
    if resource_key is not None:
        checked_length(resource_key, "resourcekey")
    path = parts.path.rstrip("/")
    if match := _FOLDER_IN_PATH.search(path + "/"):
        return GoogleDriveFolder(checked_length(match.group(1), "folder id"), resource_key)
    if re.sub(r"^/a/[^/]+", "", path) in _ID_QUERY_PATHS:  # Workspace: /a/<domain>/open?id=
        query_id = single(query, "id")
        if query_id and _BARE_ID.match(query_id):
            return GoogleDriveFolder(checked_length(query_id, "folder id"), resource_key)
        raise InvalidLink("the link has no valid folder id in its ?id= parameter")
    if _FILE_PATH.search(path):
        raise InvalidLink(
            "this is a link to a single file, not a folder: share the folder and paste its link"
        )
    raise InvalidLink(
        "no folder id found in the link: expected https://drive.google.com/drive/folders/<id>"
    )


SPEC = SourceSpec(
    name=NAME,
    display_name="Google Drive",
    link_examples=(
        "https://drive.google.com/drive/folders/<id>",
        "https://drive.google.com/drive/folders/<id>?resourcekey=<key>",
        "https://drive.google.com/open?id=<id>",
        "<id>",
    ),
    claims_link=claims_link,
    parse_link=parse_link,
    locator_type=GoogleDriveFolder,
    accepts_password=False,
    modes=(
        ReadingMode(
            name="api",
            description="Drive API v3 with GOOGLE_API_KEY",
            capabilities=Capabilities(
                sizes_known=True, checksums=("md5",), paged_listing=True, needs_credentials=True
            ),
        ),
        ReadingMode(
            name="web",
            description="Drive's public web pages, without a key (undocumented; no checksums)",
            capabilities=Capabilities(
                sizes_known=False, checksums=(), paged_listing=False, needs_credentials=False
            ),
        ),
    ),
    settings_type=GoogleDriveSettings,
    connector="worker.sources.google_drive:build_connector",
)
