"""Reading an image: its facts (dimensions as displayed, capture time, camera, animation) and a
small WebP thumbnail with its EXIF orientation applied, in bounded memory.

Pillow with pillow-heif: together they decode every format we import (JPEG, PNG, GIF, WebP,
TIFF, BMP, HEIC/HEIF, AVIF). Memory is bounded by the pixels decoded at once: JPEGs decode
scaled down by their own DCT (Pillow's draft mode, 1/2 to 1/8), every other format whole, and an
image that would decode to more than `max_pixels` is refused before any pixel is decoded.

Blocking and CPU-bound: callers run it on a thread (Pillow and libheif release the GIL while
they decode, resize and encode).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import IO

import pillow_heif
from PIL import Image, UnidentifiedImageError

# HEIC/HEIF through libheif (HEVC decoding by libde265); Pillow reads AVIF itself.
pillow_heif.register_heif_opener()
# Our own limit (`max_pixels`, checked before decoding) names its setting; Pillow's would refuse
# some images ours allows (JPEGs decoded scaled down) with a warning first.
Image.MAX_IMAGE_PIXELS = None

THUMBNAIL_TYPE = "image/webp"
_WEBP_QUALITY = 75

# Rows of a HEIF copied into Pillow at once (about 1 MB of a 12 MP picture).
_BAND_ROWS = 64
_ORIENTATION = 0x0112
_MAKE = 0x010F
_MODEL = 0x0110
_EXIF_IFD = 0x8769
_DATE_TIME_ORIGINAL = 0x9003
# EXIF orientation → the transposition that shows the image upright (as ImageOps.exif_transpose).
_UPRIGHT: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class NotPossible(Exception):
    """No thumbnail can be made of this file, for the reason given: it stays imported as is."""


@dataclass(frozen=True)
class ImageFacts:
    width: int
    height: int
    taken_at: datetime | None
    camera_make: str | None
    camera_model: str | None
    animated: bool


@dataclass(frozen=True)
class Derivative:
    facts: ImageFacts
    thumbnail: bytes  # WebP


def make_derivative(source: IO[bytes], *, longest_side: int, max_pixels: int) -> Derivative:
    """The facts and thumbnail of the image in `source`; NotPossible when it is not an image
    Pillow reads, does not decode, or would decode to more than `max_pixels` pixels."""
    try:
        image = Image.open(source)
    except UnidentifiedImageError:
        raise NotPossible("not an image format this service reads") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise NotPossible(f"its header does not decode: {_why(exc)}") from None
    with image:
        kind = image.format or "image"
        declared_width, declared_height = image.size
        animated = bool(getattr(image, "is_animated", False))
        exif = _exif(image)
        # JPEG decodes at the smallest DCT scale at least the thumbnail's size; HEIF picks the
        # smallest embedded thumbnail at least that big, when it has one (phones write one).
        image.draft("RGB", _fitted(image.size, longest_side))
        decoded = image.size[0] * image.size[1]
        if decoded > max_pixels:
            raise NotPossible(
                f"{declared_width:,} x {declared_height:,} pixels would decode to "
                f"{decoded:,} pixels, over the limit of {max_pixels:,} (DERIVATIVE_MAX_PIXELS): "
                "refused as a possible decompression bomb"
            )
        try:
            if kind == "HEIF" and image.size == (declared_width, declared_height):
                source.seek(0)
                work = _reduced_heif(source, longest_side)
                orientation = 1  # libheif applies HEIF's own rotation and mirroring
            else:
                image.load()
                # Read once decoded: TIFF's decoder turns the image upright itself and drops
                # the tag, and pillow-heif does the same for HEIF when it opens it.
                orientation = image.getexif().get(_ORIENTATION, 1)
                # Palette images are converted first: Pillow resizes them by nearest neighbour.
                work = _displayable(image)
            work.thumbnail((longest_side, longest_side), Image.Resampling.BICUBIC, 2.0)
            body = io.BytesIO()
            _upright(work, orientation).save(body, "WEBP", quality=_WEBP_QUALITY, method=4)
        except Exception as exc:
            # Decoders fail in many ways (OSError, ValueError, SyntaxError, libheif's own
            # errors, MemoryError): each means this file gets no thumbnail, for that reason.
            raise NotPossible(f"the {kind} data does not decode: {_why(exc)}") from None
    turned = orientation in {5, 6, 7, 8}
    facts = ImageFacts(
        width=declared_height if turned else declared_width,
        height=declared_width if turned else declared_height,
        taken_at=_taken_at(exif),
        camera_make=_text(exif.get(_MAKE)),
        camera_model=_text(exif.get(_MODEL)),
        animated=animated,
    )
    return Derivative(facts, body.getvalue())


def _reduced_heif(source: IO[bytes], longest_side: int) -> Image.Image:
    """The primary picture of a HEIF without an embedded thumbnail to use, reduced by a whole
    factor to about twice `longest_side` while it is copied out of libheif's buffer a band of
    rows at a time: Pillow never holds the full-size picture (4 bytes a pixel) beside
    libheif's own (3 bytes a pixel), which saves a third of a HEIC's peak memory."""
    heif = pillow_heif.open_heif(source, convert_hdr_to_8bit=True)
    width, height = heif.size
    mode, stride, data = heif.mode, heif.stride, memoryview(heif.data)
    factor = max(1, max(width, height) // (2 * longest_side))
    band_rows = factor * max(1, _BAND_ROWS // factor)
    reduced = Image.new(mode, (-(-width // factor), -(-height // factor)))
    for top in range(0, height, band_rows):
        rows = min(band_rows, height - top)
        rows_data = data[top * stride : (top + rows) * stride]  # a view: no copy
        band = Image.frombuffer(mode, (width, rows), rows_data, "raw", mode, stride, 1)  # type: ignore[arg-type]
        reduced.paste(band.reduce(factor), (0, top // factor))
    return _displayable(reduced)


def _fitted(size: tuple[int, int], longest_side: int) -> tuple[int, int]:
    """`size` scaled to `longest_side` on its longest side (never up)."""
    width, height = size
    scale = min(1.0, longest_side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _exif(image: Image.Image) -> Image.Exif:
    try:
        return image.getexif()
    except Exception:  # damaged EXIF costs the facts it holds, not the thumbnail
        return Image.Exif()


def _taken_at(exif: Image.Exif) -> datetime | None:
    try:
        value = exif.get_ifd(_EXIF_IFD).get(_DATE_TIME_ORIGINAL)
    except Exception:  # see _exif
        return None
    text = _text(value)
    if text is None:
        return None
    try:
        # "YYYY:MM:DD HH:MM:SS"; cameras without a set clock write zeros or blanks.
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "").strip()
    return text[:200] or None


def _displayable(image: Image.Image) -> Image.Image:
    """RGB, or RGBA where the image has transparency: what WebP stores."""
    if image.mode in {"RGB", "RGBA"}:
        return image
    if image.mode in {"LA", "PA"} or "transparency" in image.info:
        return image.convert("RGBA")
    if image.mode.startswith("I;16") or image.mode == "I":
        # 16-bit greyscale: scale to 8 bits, as Pillow's convert would clip it instead.
        return image.point(lambda v: v / 256).convert("L").convert("RGB")
    return image.convert("RGB")


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    method = _UPRIGHT.get(orientation)
    return image if method is None else image.transpose(method)


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
