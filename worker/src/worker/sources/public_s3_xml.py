"""What an S3 server's XML answers say: a `ListObjectsV2` page (`ListBucketResult`) and an error
(`Error`), as Amazon documents them and Google Cloud Storage's XML API and other S3-compatible
servers send them.

Parsed with defusedxml (ElementTree over expat, refusing DTDs and entities): the body comes from
whatever host a link names. Elements are matched by their local name, since the namespace
differs between servers (Amazon `http://s3.amazonaws.com/doc/2006-03-01/`, Google
`http://doc.s3.amazonaws.com/2006-03-01`). With `encoding-type=url` the server URL-encodes keys
and prefixes (as form data: `+` is a space), and says so in `EncodingType`; a server that
ignores the parameter leaves it out, and its keys are taken as they are.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote_plus
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

# A single-part upload's ETag is the object's MD5; any other has "one or more nonhexadecimal
# characters and/or ... less than 32 or more than 32 hexadecimal digits" (Amazon's
# CompleteMultipartUpload documentation), a multipart one `<hex>-<parts>`.
_MD5_ETAG = re.compile(r"^[0-9a-fA-F]{32}$")


class UnreadableXml(ValueError):
    """The body is not the XML document expected (a proxy's page, a cut body)."""


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int | None
    etag: str

    @property
    def md5(self) -> str | None:
        """The MD5 the ETag is, or None when the ETag is not one (multipart, composite)."""
        return self.etag.lower() if _MD5_ETAG.match(self.etag) else None


@dataclass(frozen=True)
class ListPage:
    objects: list[ListedObject] = field(default_factory=list)
    # The "folders" the delimiter rolled keys up into, as full prefixes ending with it.
    common_prefixes: list[str] = field(default_factory=list)
    next_token: str | None = None


@dataclass(frozen=True)
class S3Error:
    code: str
    message: str
    # Where Amazon says the bucket really is (a `PermanentRedirect`'s `Endpoint`).
    endpoint: str | None = None


def parse_list_page(body: bytes) -> ListPage:
    root = _root(body, "ListBucketResult")
    encoded = _text(root, "EncodingType") == "url"

    def decoded(value: str) -> str:
        return unquote_plus(value) if encoded else value

    objects = []
    for item in _children(root, "Contents"):
        key = _text(item, "Key")
        if key is None:
            continue
        size = _text(item, "Size")
        objects.append(
            ListedObject(
                key=decoded(key),
                size=int(size) if size is not None and size.isdigit() else None,
                etag=(_text(item, "ETag") or "").strip().strip('"'),
            )
        )
    prefixes = [
        decoded(prefix)
        for entry in _children(root, "CommonPrefixes")
        if (prefix := _text(entry, "Prefix"))
    ]
    truncated = (_text(root, "IsTruncated") or "").lower() == "true"
    token = _text(root, "NextContinuationToken") if truncated else None
    if truncated and not token:
        raise UnreadableXml("the listing is truncated but gives no NextContinuationToken")
    return ListPage(objects, prefixes, token)


def parse_error(body: bytes) -> S3Error | None:
    """The `Error` document of an error answer; None when the body is not one (HEAD answers,
    a proxy's HTML page)."""
    try:
        root = _root(body, "Error")
    except UnreadableXml:
        return None
    return S3Error(
        code=_text(root, "Code") or "",
        message=_text(root, "Message") or "",
        endpoint=_text(root, "Endpoint"),
    )


def _root(body: bytes, name: str) -> Element:
    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException) as exc:
        raise UnreadableXml(f"not an XML document: {exc}") from None
    if _local(root.tag) != name:
        raise UnreadableXml(f"expected <{name}>, got <{_local(root.tag)}>")
    return root


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: Element, name: str) -> Iterator[Element]:
    return (child for child in element if _local(child.tag) == name)


def _text(element: Element, name: str) -> str | None:
    child = next(_children(element, name), None)
    return None if child is None else (child.text or "")
