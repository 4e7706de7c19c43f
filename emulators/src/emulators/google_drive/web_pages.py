"""The HTML Google serves on its key-less web endpoints, as scrapers observe it.

None of this is documented by Google. The shapes follow /work/shared/reference (A12): the
embedded folder view's `flip-entry` markup, the `uc` virus-scan warning form and quota page, and
Google's generic error page. Names and titles are always HTML-escaped, as Google escapes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from html import escape
from urllib.parse import urlencode

from emulators.google_drive.fixture import FOLDER_MIME, DriveItem

WEB_BASE = "https://drive.google.com"
DOCS_BASE = "https://docs.google.com"
LOGIN_URL = "https://accounts.google.com/ServiceLogin"
ICON_BASE = "https://drive-thirdparty.googleusercontent.com/16/type/"
HTML_TYPE = b"text/html; charset=utf-8"

# Docs-editor types open in docs.google.com under these path names.
EDITOR_PATHS = {
    "application/vnd.google-apps.document": "document",
    "application/vnd.google-apps.spreadsheet": "spreadsheets",
    "application/vnd.google-apps.presentation": "presentation",
    "application/vnd.google-apps.drawing": "drawings",
    "application/vnd.google-apps.form": "forms",
}
_STATUS_TEXT = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    416: "Requested Range Not Satisfiable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_ERROR_TEXT = {
    404: "The requested URL was not found on this server.",
    429: "We're sorry, but you have sent too many requests to us recently. Please try again later.",
}
_SCRIPT = (
    # Real pages carry scripts; this one holds markup-like text a parser must not take as entries.
    '<script nonce="emulator">window.viewerData = {"html": '
    '"<div class=\\"flip-entry\\" id=\\"entry-not-an-entry\\"></div>"};</script>'
)


def login_location(continue_url: str) -> str:
    """Where Google sends a signed-out browser that asked for something not shared publicly."""
    query = urlencode(
        {
            "service": "wise",
            "passive": "1209600",
            "osid": "1",
            "continue": continue_url,
            "followup": continue_url,
        }
    )
    return f"{LOGIN_URL}?{query}"


def _with_key(url: str, resource_key: str | None, separator: str) -> str:
    return f"{url}{separator}resourcekey={resource_key}" if resource_key else url


def entry_link(target_id: str, mime_type: str, resource_key: str | None) -> str:
    """The link an entry of the embedded view opens: a folder, a Docs editor, or a file viewer;
    URLs of keyed items carry their resource key, as every URL Google hands out does."""
    if mime_type == FOLDER_MIME:
        return _with_key(f"{WEB_BASE}/drive/folders/{target_id}", resource_key, "?")
    editor = EDITOR_PATHS.get(mime_type)
    if editor is not None:
        url = f"{DOCS_BASE}/{editor}/d/{target_id}/edit?usp=drive_web"
        return _with_key(url, resource_key, "&")
    return _with_key(f"{WEB_BASE}/file/d/{target_id}/view?usp=drive_web", resource_key, "&")


def _day(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms // 1000, UTC)
    return f"{moment:%b} {moment.day}, {moment.year}"


def _entry(item: DriveItem) -> str:
    # A shortcut is listed under its own id and name but opens (and shows the icon of) its target.
    target_id, mime_type, key = item.id, item.mime_type, item.resource_key
    if item.is_shortcut:
        target_id = item.shortcut_target_id or item.id
        mime_type = item.shortcut_target_mime_type or mime_type
        key = item.shortcut_target_resource_key
    href = escape(entry_link(target_id, mime_type, key))
    return (
        f'<div class="flip-entry" id="entry-{escape(item.id)}" tabindex="0" role="link">'
        '<div class="flip-entry-info">'
        f'<a href="{href}" target="_blank">'
        f'<div class="flip-entry-list-icon"><img src="{escape(ICON_BASE + mime_type)}" alt="">'
        "</div>"
        f'<div class="flip-entry-title">{escape(item.name)}</div>'
        f'<div class="flip-entry-last-modified"><div>{_day(item.modified_ms)}</div></div>'
        "</a></div></div>"
    )


def folder_view(folder: DriveItem, children: Iterable[DriveItem]) -> bytes:
    """`embeddedfolderview`: every listed child in one page, no sizes, no checksums."""
    entries = "\n".join(_entry(child) for child in children)
    page = (
        "<!DOCTYPE html><html><head>"
        '<meta http-equiv="content-type" content="text/html; charset=utf-8">'
        f"<title>{escape(folder.name)}</title>{_SCRIPT}</head>"
        '<body><div class="flip-view-container" id="folder-view">'
        f'<div class="flip-entries">\n{entries}\n</div>'
        "</div></body></html>"
    )
    return page.encode()


def _uc_page(title: str, body: str) -> bytes:
    page = (
        "<!DOCTYPE html><html><head>"
        f"<title>{escape(title)}</title>"
        '<meta http-equiv="content-type" content="text/html; charset=utf-8"/>'
        '</head><body><div class="uc-main"><div id="uc-text">'
        f"{body}</div></div>"
        '<div class="uc-footer"><hr class="uc-footer-divider"></div></body></html>'
    )
    return page.encode()


def _human_size(size: int) -> str:
    """As the warning page writes sizes: "37M", "108M", "1.3G"."""
    value, unit = float(size), ""
    for unit in ("", "K", "M", "G"):
        if value < 1024 or unit == "G":
            break
        value /= 1024
    return (f"{value:.1f}" if unit and value < 10 else f"{value:.0f}") + unit


def virus_scan_warning(item: DriveItem, action: str, fields: Mapping[str, str]) -> bytes:
    """The "too large to scan" page; submitting its form (a GET) gives the bytes."""
    inputs = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in fields.items()
    )
    body = (
        '<p class="uc-warning-caption">Google Drive can\'t scan this file for viruses.</p>'
        '<p class="uc-warning-subcaption"><span class="uc-name-size">'
        f'<a href="/open?id={escape(item.id)}">{escape(item.name)}</a> '
        f"({_human_size(item.size or 0)})</span> is too large for Google to scan for viruses. "
        "Would you still like to download this file?</p>"
        f'<form id="download-form" action="{escape(action)}" method="get">'
        '<input type="submit" id="uc-download-link" class="goog-inline-block jfk-button '
        'jfk-button-action" value="Download anyway"/>'
        f"{inputs}</form>"
    )
    return _uc_page("Google Drive - Virus scan warning", body)


def quota_exceeded() -> bytes:
    body = (
        '<p class="uc-error-caption">Sorry, you can\'t view or download this file at this '
        "time.</p>"
        '<p class="uc-error-subcaption">Too many users have viewed or downloaded this file '
        "recently. Please try accessing the file again later. If the file you are trying to "
        "access is particularly large or is shared with many people, it may take up to 24 hours "
        "to be able to view or download the file. If you still can't access a file after 24 "
        "hours, contact your domain administrator.</p>"
    )
    return _uc_page("Google Drive - Quota exceeded", body)


def abusive_file() -> bytes:
    # Not in the reference notes: modelled on the API's message for the same situation.
    body = (
        '<p class="uc-error-caption">Sorry, this file is infected with a virus</p>'
        '<p class="uc-error-subcaption">This file has been identified as malware or spam and '
        "cannot be downloaded.</p>"
    )
    return _uc_page("Google Drive - Virus found", body)


def error_page(status: int) -> bytes:
    """Google's generic error page for a status code."""
    text = _STATUS_TEXT.get(status, "Error")
    detail = _ERROR_TEXT.get(status, "That's an error.")
    page = (
        "<!DOCTYPE html><html lang=en><meta charset=utf-8>"
        f"<title>Error {status} ({escape(text)})!!1</title>"
        f"<p><b>{status}.</b> <ins>That's an error.</ins>"
        f"<p>{escape(detail)} <ins>That's all we know.</ins>"
    )
    return page.encode()
