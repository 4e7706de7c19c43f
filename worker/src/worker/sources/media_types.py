"""Media types: from file names, for sources that do not say what a file is, and from the
leading bytes (with puremagic, a maintained signature database), which decide."""

from collections.abc import AsyncIterator

import puremagic

from worker.sources.base import PermanentSourceError

# Checked before Python's `mimetypes`, which reads the machine's own tables: an image's type
# must not depend on where the worker runs.
_IMAGE_EXTENSIONS = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".avif": "image/avif",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}


def image_type_by_extension(name: str) -> str | None:
    """`IMG_1.JPG` → `image/jpeg`; None for a name without one of the image extensions."""
    _, dot, extension = name.rpartition(".")
    if not dot:
        return None
    return _IMAGE_EXTENSIONS.get(f".{extension.lower()}")


# Enough leading bytes for every signature below and puremagic's image ones.
SNIFF_BYTES = 64
# ISO-BMFF images (HEIF, HEIC, AVIF) share a box structure with MP4 video: the `ftyp` box's
# brands tell them apart, and puremagic knows only some brands (not `mif1`) and ranks `heic`
# as video, so these are read here. Brands as registered with the MP4 registration authority.
_FTYP_BRANDS = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
}
# puremagic's names for types the rest of the system (and the catalogue) names otherwise.
_ALIASES = {"image/x-ms-bmp": "image/bmp", "image/x-bmp": "image/bmp", "image/jpg": "image/jpeg"}


# The formats nearly every file is, told by their fixed leading signatures before puremagic's
# scan of its whole database, which costs 0.2 CPU-ms a file (measured: 15 % of a worker's CPU
# in `make bench`). Any other file is left to puremagic.
_COMMON_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type_of(head: bytes) -> str | None:
    """The image type the leading bytes of a file show, or None when they are not an image
    format (or no format at all). Sources that do not know a file's type (Dropbox, the key-less
    paths) only name it by extension, so this, not the name, decides what is stored as an
    image."""
    for signature, mime_type in _COMMON_SIGNATURES:
        if head.startswith(signature):
            return mime_type
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brands = [head[8:12]] + [head[at : at + 4] for at in range(16, min(len(head), 40), 4)]
        return next((_FTYP_BRANDS[b] for b in brands if b in _FTYP_BRANDS), None)
    for match in _matches(head):
        if match.startswith("image/"):
            return _ALIASES.get(match, match)
    return None


class NotAnImage(PermanentSourceError):
    """The file's bytes are no image format, whatever its name or listed type say: it is
    skipped with this reason, not stored."""


async def typed_by_bytes(
    chunks: AsyncIterator[bytes], listed_type: str
) -> tuple[str, AsyncIterator[bytes]]:
    """The image type the file's first bytes show, and the whole stream again; `NotAnImage`
    when they show no image format (an empty file keeps `listed_type`: it has no bytes to
    tell)."""
    head = b""
    while len(head) < SNIFF_BYTES and (chunk := await anext(chunks, None)) is not None:
        head += chunk
    detected = image_type_of(head)
    if detected is None and head:
        raise NotAnImage(
            f"not an image: its bytes are {describe_bytes(head)}, though the source lists it "
            f"as {listed_type}"
        )
    return detected or listed_type, _prepend(head, chunks)


async def _prepend(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if head:
        yield head
    async for chunk in rest:
        yield chunk


def describe_bytes(head: bytes) -> str:
    """What the leading bytes look like, for a reason a person reads: `application/pdf`."""
    if not head:
        return "no bytes"
    return next(iter(_matches(head)), "of no known format")


def _matches(head: bytes) -> list[str]:
    try:
        found = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return []
    return [match.mime_type for match in found if match.mime_type]
