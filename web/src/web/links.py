"""Which source a pasted folder link belongs to, so the form needs no source picker.

Only the host and the kind of path are checked here; the API parses the link itself and says
precisely what is wrong with it.
"""

import re
from urllib.parse import urlsplit

from web.schemas import Source

_DRIVE_HOSTS = {"drive.google.com", "docs.google.com"}
_DROPBOX_HOSTS = {"dropbox.com", "www.dropbox.com"}
# A Drive folder id on its own is accepted by the API too.
_BARE_DRIVE_ID = re.compile(r"^[A-Za-z0-9_-]{10,}$")
_DROPBOX_FOLDER_PATH = re.compile(r"^/(sh|scl/fo)/")
_DROPBOX_FILE_PATH = re.compile(r"^/(s|scl/fi)/")

SOURCE_NAMES: dict[str, str] = {"google_drive": "Google Drive", "dropbox": "Dropbox"}


class UnrecognisedLink(ValueError):
    """The text is not a folder link of a source we import from; the message says what to do."""


def recognise_source(text: str) -> Source:
    link = text.strip()
    if not link:
        raise UnrecognisedLink("Paste the link of a Google Drive or Dropbox folder.")
    if _BARE_DRIVE_ID.match(link):
        return "google_drive"
    parts = urlsplit(link if "://" in link else f"https://{link}")
    host = (parts.hostname or "").lower()
    if parts.scheme in {"http", "https"} and host in _DRIVE_HOSTS:
        return "google_drive"
    if parts.scheme in {"http", "https"} and host in _DROPBOX_HOSTS:
        if _DROPBOX_FOLDER_PATH.match(parts.path):
            return "dropbox"
        if _DROPBOX_FILE_PATH.match(parts.path):
            raise UnrecognisedLink(
                "This is a link to a single Dropbox file, not a folder: "
                "share the folder and paste its link."
            )
        raise UnrecognisedLink(
            "This Dropbox link is not a shared folder: it should look like "
            "https://www.dropbox.com/scl/fo/… or https://www.dropbox.com/sh/…"
        )
    raise UnrecognisedLink(
        "This is not a Google Drive or Dropbox folder link: it should start with "
        "https://drive.google.com/ or https://www.dropbox.com/."
    )
