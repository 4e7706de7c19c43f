"""Reading a pasted folder link: which folder, and what the worker needs to open it (Drive's
resource key, Dropbox's whole link).

Parsing happens at the API's edge so that a bad link is refused before anything is queued.
"""

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, urlsplit, urlunsplit

from api.constraints import MAX_ID_LENGTH
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
        return FolderLink(folder_id=_checked_length(text, "folder id"), resource_key=None)

    parts, host = _split(text)
    if parts.scheme not in {"http", "https"} or host not in _DRIVE_HOSTS:
        raise InvalidInput(
            f"not a Google Drive link: expected https://drive.google.com/drive/folders/<id>, "
            f"got host {host or '(none)'!r}"
        )
    query = parse_qs(parts.query)
    resource_key = _single(query, "resourcekey")
    if resource_key is not None:
        _checked_length(resource_key, "resourcekey")
    path = parts.path.rstrip("/")

    if match := _FOLDER_IN_PATH.search(path + "/"):
        folder_id = _checked_length(match.group(1), "folder id")
        return FolderLink(folder_id=folder_id, resource_key=resource_key)
    if _strip_account_prefix(path) in _ID_QUERY_PATHS:
        query_id = _single(query, "id")
        if query_id and _BARE_ID.match(query_id):
            folder_id = _checked_length(query_id, "folder id")
            return FolderLink(folder_id=folder_id, resource_key=resource_key)
        raise InvalidInput("the link has no valid folder id in its ?id= parameter")
    if _FILE_PATH.search(path):
        raise InvalidInput(
            "this is a link to a single file, not a folder: share the folder and paste its link"
        )
    raise InvalidInput(
        "no folder id found in the link: expected https://drive.google.com/drive/folders/<id>"
    )


def _split(text: str) -> tuple[SplitResult, str]:
    """The link's parts and lower-cased host; a link urllib cannot split (an unclosed `[`
    of an IPv6 host) is invalid input, like any other link we cannot read."""
    try:
        parts = urlsplit(text if "://" in text else f"https://{text}")
        return parts, (parts.hostname or "").lower()
    except ValueError as exc:
        raise InvalidInput(f"the link cannot be read: {exc}") from None


def _checked_length(value: str, name: str) -> str:
    """Ids and keys are a few dozen characters; one of hundreds is no link a source gave."""
    if len(value) > MAX_ID_LENGTH:
        raise InvalidInput(
            f"the link's {name} is {len(value)} characters long: a source's are at most "
            f"{MAX_ID_LENGTH}; paste the folder's link as the source gave it"
        )
    return value


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values and len(values) == 1 and values[0] else None


def _strip_account_prefix(path: str) -> str:
    # Workspace links look like /a/<domain>/open?id=...
    return re.sub(r"^/a/[^/]+", "", path)


_DROPBOX_HOSTS = {"www.dropbox.com", "dropbox.com"}
_DROPBOX_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
_DROPBOX_FORMS = (
    "https://www.dropbox.com/scl/fo/<id>/<key>?rlkey=<rlkey> or "
    "https://www.dropbox.com/sh/<id>/<hash>"
)


@dataclass(frozen=True)
class DropboxFolderLink:
    # The link's stable part, `scl/fo/<id>/<key>` or `sh/<id>/<hash>`: one live import per link.
    folder_id: str
    # The link to call Dropbox with: on www.dropbox.com, with every parameter as pasted (an
    # `scl` link's `rlkey` is its access grant; Dropbox takes the rest as it gave them).
    url: str


def parse_dropbox_folder_link(url: str) -> DropboxFolderLink:
    """Accept both forms of a Dropbox shared folder link, with or without `dl`, `st`, `e`;
    raise InvalidInput saying what is wrong."""
    text = url.strip()
    if not text:
        raise InvalidInput("url is empty: paste a Dropbox shared folder link")
    parts, host = _split(text)
    if parts.scheme not in {"http", "https"} or host not in _DROPBOX_HOSTS:
        raise InvalidInput(
            f"not a Dropbox link: expected {_DROPBOX_FORMS}, got host {host or '(none)'!r}"
        )
    segments = [segment for segment in parts.path.split("/") if segment]
    if segments[:1] == ["s"] or segments[:2] == ["scl", "fi"]:
        raise InvalidInput(
            "this is a link to a single Dropbox file, not a folder: share the folder and paste "
            "its link"
        )
    if segments[:1] == ["sh"]:
        form, ids = "sh", segments[1:]
    elif segments[:2] == ["scl", "fo"]:
        form, ids = "scl/fo", segments[2:]
    else:
        raise InvalidInput(f"not a Dropbox shared folder link: expected {_DROPBOX_FORMS}")
    if len(ids) != 2 or not all(_DROPBOX_SEGMENT.match(part) for part in ids):
        raise InvalidInput(
            f"malformed Dropbox folder link: expected {_DROPBOX_FORMS}, with nothing after "
            "the folder's key (paste the link of the shared folder itself)"
        )
    for part in ids:
        _checked_length(part, "folder id")
    if form == "scl/fo":
        rlkey = _single(parse_qs(parts.query), "rlkey")
        if rlkey is None:
            raise InvalidInput(
                "the link has no rlkey parameter, which Dropbox needs to open it: copy the whole "
                "link, including ?rlkey=..."
            )
        if not _DROPBOX_SEGMENT.match(rlkey):
            raise InvalidInput("malformed Dropbox folder link: its rlkey is not a valid key")
        _checked_length(rlkey, "rlkey")
    path = "/" + "/".join(segments)
    return DropboxFolderLink(
        folder_id=f"{form}/{ids[0]}/{ids[1]}",
        url=urlunsplit(("https", "www.dropbox.com", path, parts.query, "")),
    )
