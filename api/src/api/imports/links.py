"""Reading a pasted folder link: which folder, and the resource key that may unlock it.

Parsing happens at the API's edge so that a bad link is refused before anything is queued.
"""

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from api.errors import InvalidInput

_DRIVE_HOSTS = {"drive.google.com", "docs.google.com"}
_ID = r"[A-Za-z0-9_-]{10,}"
_FOLDER_IN_PATH = re.compile(rf"/folders/({_ID})(?:/|$)")
_BARE_ID = re.compile(rf"^{_ID}$")
# Legacy forms that carry the folder id as ?id=
_ID_QUERY_PATHS = {"/open", "/folderview", "/embeddedfolderview"}
_FILE_PATH = re.compile(r"/file/d/|/(document|spreadsheets|presentation|forms)/d/|/uc$")


@dataclass(frozen=True)
class FolderLink:
    folder_id: str
    resource_key: str | None


def parse_google_drive_folder_link(url: str) -> FolderLink:
    """Accept every common form of a Drive folder link; raise InvalidInput saying what is wrong."""
    text = url.strip()
    if not text:
        raise InvalidInput("url is empty: paste a Google Drive folder link")
    if _BARE_ID.match(text):
        return FolderLink(folder_id=text, resource_key=None)

    parts = urlsplit(text if "://" in text else f"https://{text}")
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"} or host not in _DRIVE_HOSTS:
        raise InvalidInput(
            f"not a Google Drive link: expected https://drive.google.com/drive/folders/<id>, "
            f"got host {host or '(none)'!r}"
        )
    query = parse_qs(parts.query)
    resource_key = _single(query, "resourcekey")
    path = parts.path.rstrip("/")

    if match := _FOLDER_IN_PATH.search(path + "/"):
        return FolderLink(folder_id=match.group(1), resource_key=resource_key)
    if _strip_account_prefix(path) in _ID_QUERY_PATHS:
        folder_id = _single(query, "id")
        if folder_id and _BARE_ID.match(folder_id):
            return FolderLink(folder_id=folder_id, resource_key=resource_key)
        raise InvalidInput("the link has no valid folder id in its ?id= parameter")
    if _FILE_PATH.search(path):
        raise InvalidInput(
            "this is a link to a single file, not a folder: share the folder and paste its link"
        )
    raise InvalidInput(
        "no folder id found in the link: expected https://drive.google.com/drive/folders/<id>"
    )


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values and len(values) == 1 and values[0] else None


def _strip_account_prefix(path: str) -> str:
    # Workspace links look like /a/<domain>/open?id=...
    return re.sub(r"^/a/[^/]+", "", path)
