"""A WebDAV `207 Multi-Status` answer to PROPFIND, read as it arrives (RFC 4918 §14.16).

WebDAV has no paging: a folder of 50,000 files comes as one answer of tens of megabytes. The
answer is fed chunk by chunk to the standard library's pull parser (expat, in C; its entity
expansion is bounded since expat 2.4, and ElementTree never fetches external entities); each
`<d:response>` is turned into a `DavEntry` as soon as it closes and then dropped from the tree,
so memory holds one entry at a time, whatever the folder's size. An answer with a document type
declaration is refused before its root element: a multistatus never has one, and only one can
declare the entities XML attacks are made of.
"""

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from typing import cast
from urllib.parse import unquote, urlsplit

from domain.sources.records import MD5

DAV = "{DAV:}"
OC = "{http://owncloud.org/ns}"

# What the connector asks of each entry: Nextcloud, ownCloud and oCIS all answer these.
PROPFIND_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
    b"<d:resourcetype/><d:getcontentlength/><d:getcontenttype/><d:getetag/>"
    b"<d:getlastmodified/><d:displayname/><oc:fileid/><oc:checksums/>"
    b"</d:prop></d:propfind>"
)

# `oc:checksum` holds `TYPE:hex` pairs: one an element (Nextcloud), or several in one, space
# separated (ownCloud, oCIS). The types a hasher is registered for; ADLER32 is not checked.
_ALGORITHMS = {"MD5": MD5, "SHA1": "sha1", "SHA-1": "sha1", "SHA256": "sha256", "SHA-256": "sha256"}
_HEX_LENGTHS = {MD5: 32, "sha1": 40, "sha256": 64}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_MAX_PROLOG_BYTES = 64 * 1024
_SABRE_MESSAGE = re.compile(rb"<s:message>([^<]{1,300})</s:message>")
_SABRE_EXCEPTION = re.compile(rb"<s:exception>([^<]{1,300})</s:exception>")


class NotMultistatus(ValueError):
    """The answer is not well-formed XML (a cut body, a proxy's page)."""


@dataclass(frozen=True, slots=True)
class DavEntry:
    """One `<d:response>`: a file or folder as the server described it."""

    # The href's path, percent-decoded (`/public.php/dav/files/<token>/a b/c.jpg`).
    path: str
    is_folder: bool
    size: int | None = None
    content_type: str | None = None
    # Without quotes or weak marker.
    etag: str | None = None
    # The server's own id of the file (`oc:fileid`): numeric on Nextcloud and ownCloud 10, a
    # storage-space id on oCIS.
    file_id: str | None = None
    checksums: dict[str, str] = field(default_factory=dict)
    # The file's or folder's name (Nextcloud's `d:displayname`): a share's root is named
    # by its token in the href, its folder's name only here.
    display_name: str | None = None


class MultistatusReader:
    """Feed it the answer's bytes; it gives back each entry once its `<d:response>` closed."""

    def __init__(self) -> None:
        self._parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
        self._parent: ET.Element | None = None
        self._depth = 0
        # What came before the root element, until it starts: where a DTD would be.
        self._prolog = bytearray()

    def feed(self, data: bytes) -> Iterator[DavEntry]:
        if self._parent is None:
            self._prolog += data
            if b"<!DOCTYPE" in self._prolog or len(self._prolog) > _MAX_PROLOG_BYTES:
                raise NotMultistatus("a document type declaration, which WebDAV never sends")
        try:
            self._parser.feed(data)
        except ET.ParseError as exc:
            raise NotMultistatus(str(exc)) from None
        yield from self._entries()

    def close(self) -> Iterator[DavEntry]:
        try:
            self._parser.close()
        except ET.ParseError as exc:
            raise NotMultistatus(str(exc)) from None
        yield from self._entries()
        if self._parent is None or self._parent.tag != f"{DAV}multistatus":
            raise NotMultistatus("the answer has no <d:multistatus>")

    def _entries(self) -> Iterator[DavEntry]:
        try:
            events = list(self._parser.read_events())
        except ET.ParseError as exc:
            raise NotMultistatus(str(exc)) from None
        for event_and_element in events:
            # (event, element) for the start and end events asked for.
            event, element = cast(tuple[str, ET.Element], event_and_element)
            if event == "start":
                self._depth += 1
                if self._depth == 1:
                    self._parent = element
                    self._prolog.clear()
                continue
            self._depth -= 1
            if self._depth == 1 and element.tag == f"{DAV}response":
                entry = to_entry(element)
                # Done with it: the root keeps no finished response, so memory stays flat.
                if self._parent is not None:
                    self._parent.remove(element)
                if entry is not None:
                    yield entry


def to_entry(response: ET.Element) -> DavEntry | None:
    """The entry a `<d:response>` describes, from its `200` propstats; None without an href."""
    href = response.findtext(f"{DAV}href")
    if not href or not href.strip():
        return None
    path = unquote(urlsplit(href.strip()).path)
    props: dict[str, ET.Element] = {}
    for propstat in response.iterfind(f"{DAV}propstat"):
        status = propstat.findtext(f"{DAV}status") or ""
        if " 200 " not in f"{status} ":
            continue
        prop = propstat.find(f"{DAV}prop")
        if prop is not None:
            for child in prop:
                props.setdefault(child.tag, child)
    resource_type = props.get(f"{DAV}resourcetype")
    is_folder = resource_type is not None and resource_type.find(f"{DAV}collection") is not None
    return DavEntry(
        path=path,
        is_folder=is_folder or path.endswith("/"),
        size=_int(_text(props, f"{DAV}getcontentlength")),
        content_type=_text(props, f"{DAV}getcontenttype"),
        etag=_etag(_text(props, f"{DAV}getetag")),
        file_id=_text(props, f"{OC}fileid"),
        checksums=_checksums(props.get(f"{OC}checksums")),
        display_name=_text(props, f"{DAV}displayname"),
    )


def _text(props: dict[str, ET.Element], tag: str) -> str | None:
    element = props.get(tag)
    text = (element.text or "").strip() if element is not None else ""
    return text or None


def _int(text: str | None) -> int | None:
    try:
        value = int(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and value >= 0 else None


def _etag(text: str | None) -> str | None:
    if text is None:
        return None
    return text.removeprefix("W/").strip('"') or None


def _checksums(element: ET.Element | None) -> dict[str, str]:
    found: dict[str, str] = {}
    if element is None:
        return found
    for checksum in element.iter(f"{OC}checksum"):
        for pair in re.split(r"[\s,]+", checksum.text or ""):
            kind, colon, value = pair.partition(":")
            algorithm = _ALGORITHMS.get(kind.upper())
            if colon and algorithm and _HEX.match(value) and len(value) == _HEX_LENGTHS[algorithm]:
                found.setdefault(algorithm, value.lower())
    return found


def sabre_message(body: bytes) -> str | None:
    """The `<s:message>` (or `<s:exception>`) of a SabreDAV error answer, if it is one: a few
    bytes of text to show, read without parsing what the server sent."""
    head = body[:4096]
    if match := _SABRE_MESSAGE.search(head):
        return unescape(match.group(1).decode("utf-8", "replace")).strip() or None
    if match := _SABRE_EXCEPTION.search(head):
        return match.group(1).decode("utf-8", "replace").rpartition("\\")[2].strip() or None
    return None
