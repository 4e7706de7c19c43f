"""What the signed-out Drive pages say: the embedded folder view's entries, and the page Google
sends instead of a file (the virus-scan warning, a quota or error page).

Only structure that scrapers agree on is relied upon, found with CSS selectors on a real HTML5
parse (selectolax, on the Lexbor engine), so markup variants that still hold that structure are
understood: the page's `title` (the folder's name), the `flip-entries` container, each
`div.flip-entry` with its `id="entry-<ID>"`, its
first link, its type icon (`…/type/<MIME>`) and the text of its `flip-entry-title`; on a
download page, the `download-form` (or the older `uc-download-link`), the title, and the error
text of `p.uc-error-subcaption`. Everything else (scripts, dates, layout) is ignored.

Interpreting an entry (file, folder, shortcut, Docs-editor type) is plain data work on what was
found here; it never touches the network.
"""

import mimetypes
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.sources.base import FolderRef, SourceFile
from worker.sources.google_drive import FOLDER_MIME_TYPE, GOOGLE_NATIVE_PREFIX, SHORTCUT_MIME_TYPE
from worker.sources.media_types import image_type_by_extension

_MARKUP_INDENT = re.compile(r"^\s*\n\s*|\s*\n\s*$")
_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
# The docs.google.com path names of the Docs-editor types (the mime type when no icon says it).
_EDITOR_TYPES = {
    "document": "application/vnd.google-apps.document",
    "spreadsheets": "application/vnd.google-apps.spreadsheet",
    "presentation": "application/vnd.google-apps.presentation",
    "drawings": "application/vnd.google-apps.drawing",
    "forms": "application/vnd.google-apps.form",
}


@dataclass(frozen=True)
class FolderEntry:
    """One `div.flip-entry` as found in the page, before interpretation."""

    entry_id: str | None
    href: str | None
    icon: str | None
    title: str


@dataclass(frozen=True)
class FolderView:
    """An embedded folder view: the folder's name (its page's title) and its entries."""

    title: str
    entries: list[FolderEntry]


@dataclass(frozen=True)
class DownloadPage:
    """A page Google sent instead of a file. `form_action` is where the virus-scan warning
    sends the download (None on any other page), with `form_fields` as its query."""

    title: str
    error: str
    form_action: str | None
    form_fields: dict[str, str]


def parse_folder_view(html: str) -> FolderView | None:
    """The title and entries of an embedded folder view; None when the page has no listing at
    all (a sign-in page, or Google changed the page)."""
    tree = LexborHTMLParser(html)
    if tree.css_first("div.flip-entries") is None:
        return None
    entries = []
    for node in tree.css("div.flip-entry"):
        element_id = _attribute(node, "id")
        link = node.css_first("a[href]")
        icon = node.css_first('img[src*="/type/"]')
        title = node.css_first("div.flip-entry-title")
        entries.append(
            FolderEntry(
                entry_id=element_id.removeprefix("entry-")
                if element_id.startswith("entry-")
                else None,
                href=_attribute(link, "href") or None,
                icon=_attribute(icon, "src") or None,
                title=title.text() if title is not None else "",
            )
        )
    # Written inline as an entry's name is: see `_name`.
    page_title = tree.css_first("title")
    return FolderView(
        title=_name(page_title.text()) if page_title is not None else "", entries=entries
    )


def parse_download_page(html: str) -> DownloadPage:
    tree = LexborHTMLParser(html)
    form_action: str | None = None
    form_fields: dict[str, str] = {}
    form = tree.css_first("form#download-form")
    if form is not None:
        form_action = _attribute(form, "action")
        for field in form.css("input[name]"):
            if (_attribute(field, "type") or "text").lower() != "submit":
                form_fields[_attribute(field, "name")] = _attribute(field, "value")
    elif (link := tree.css_first("a#uc-download-link[href]")) is not None:
        form_action = _attribute(link, "href") or None
    return DownloadPage(
        title=_text(tree.css_first("title")),
        error=_text(tree.css_first("p.uc-error-subcaption")),
        form_action=form_action,
        form_fields=form_fields,
    )


def to_record(entry: FolderEntry) -> SourceFile | FolderRef | None:
    """The file or folder an entry stands for; None for an entry without a usable id."""
    link = _parse_link(entry.href)
    item_id = entry.entry_id or link.target_id
    if not item_id or not _ID.match(item_id):
        return None
    name = _name(entry.title) or item_id
    if link.target_id is not None and link.target_id != item_id:
        # Listed under its own id but opening another item: a shortcut, as the API would say.
        return SourceFile(
            file_id=item_id,
            name=name,
            mime_type=SHORTCUT_MIME_TYPE,
            not_downloadable=why_not_downloadable(SHORTCUT_MIME_TYPE),
        )
    mime_type = _icon_mime_type(entry.icon)
    if mime_type is None or mime_type == "application/octet-stream":
        mime_type = _link_mime_type(link) or _guess_mime_type(name) or mime_type
    if link.kind == "folder" or mime_type == FOLDER_MIME_TYPE:
        return FolderRef(item_id, link.resource_key, name)
    mime_type = mime_type or "application/octet-stream"
    return SourceFile(
        file_id=item_id,
        name=name,
        mime_type=mime_type,
        resource_key=link.resource_key,
        not_downloadable=why_not_downloadable(mime_type),
    )


def why_not_downloadable(mime_type: str) -> str | None:
    if mime_type == SHORTCUT_MIME_TYPE:
        return "shortcut: following shortcuts is not supported yet"
    if mime_type.startswith(GOOGLE_NATIVE_PREFIX):
        return f"Google-native file ({mime_type}) has no downloadable bytes"
    return None


@dataclass(frozen=True)
class _Link:
    kind: str | None  # "file", "folder", a docs.google.com editor path name, or None
    target_id: str | None
    resource_key: str | None


def _parse_link(href: str | None) -> _Link:
    if not href:
        return _Link(None, None, None)
    parts = urlsplit(href)
    query = parse_qs(parts.query)
    resource_key = query["resourcekey"][0] if query.get("resourcekey") else None
    segments = [segment for segment in parts.path.split("/") if segment]
    kind: str | None = None
    target: str | None = None
    if "folders" in segments[:-1]:
        kind, target = "folder", segments[segments.index("folders") + 1]
    elif "d" in segments[1:-1]:
        at = segments.index("d", 1)
        kind, target = segments[at - 1], segments[at + 1]
    elif query.get("id"):
        target = query["id"][0]
    if target is not None and not _ID.match(target):
        target = None
    return _Link(kind, target, resource_key)


def _icon_mime_type(icon: str | None) -> str | None:
    """`https://drive-thirdparty.googleusercontent.com/16/type/image/jpeg` → `image/jpeg`."""
    if not icon:
        return None
    path = urlsplit(icon).path
    mime_type = unquote(path.split("/type/", 1)[1]).strip().lower() if "/type/" in path else ""
    return mime_type if _MIME.match(mime_type) else None


def _link_mime_type(link: _Link) -> str | None:
    if link.kind == "folder":
        return FOLDER_MIME_TYPE
    return _EDITOR_TYPES.get(link.kind or "")


def _guess_mime_type(name: str) -> str | None:
    if "." not in name:
        return None
    return image_type_by_extension(name) or mimetypes.guess_type(name)[0]


def _name(title: str) -> str:
    """The entry's name as Drive gives it: Google writes it inline in its title element, so
    spaces at its ends are the name's own; whitespace that runs over a line break is the
    indentation of reformatted markup, and is dropped."""
    return _MARKUP_INDENT.sub("", title)


def _attribute(node: LexborNode | None, name: str) -> str:
    """An attribute's value; "" when the node or the attribute is missing, or has no value."""
    if node is None:
        return ""
    return node.attributes.get(name) or ""


def _text(node: LexborNode | None) -> str:
    """The node's text with runs of whitespace as single spaces."""
    return " ".join(node.text().split()) if node is not None else ""
