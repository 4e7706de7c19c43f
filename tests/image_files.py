"""Real image files of every format the worker makes thumbnails of, made here with Pillow and
pillow-heif: small photo-like pictures with EXIF orientation, capture time and camera, and the
broken and hostile files the worker must refuse without losing the image."""

import io
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime

import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()

TAKEN_AT = datetime(2023, 7, 14, 9, 30, 5)
CAMERA = ("Apple", "iPhone 13")

# Pillow's format name, the MIME type, and the extension of each format.
FORMATS = {
    "jpeg": ("JPEG", "image/jpeg", "jpg"),
    "png": ("PNG", "image/png", "png"),
    "gif": ("GIF", "image/gif", "gif"),
    "webp": ("WEBP", "image/webp", "webp"),
    "tiff": ("TIFF", "image/tiff", "tif"),
    "bmp": ("BMP", "image/bmp", "bmp"),
    "heic": ("HEIF", "image/heic", "heic"),
    "avif": ("AVIF", "image/avif", "avif"),
}
# Formats whose files carry EXIF in Pillow's writers (GIF and BMP have no place for it).
WITH_EXIF = {"jpeg", "png", "webp", "tiff", "heic", "avif"}


@dataclass(frozen=True)
class ImageFile:
    name: str
    mime_type: str
    data: bytes


def photo(width: int, height: int, *, seed: int = 0) -> Image.Image:
    """A picture with the detail of a photo (smooth noise), cheap to make at any size."""
    small = Image.effect_noise((max(1, width // 8), max(1, height // 8)), 40 + seed % 20)
    colour = Image.merge("RGB", (small, small.rotate(90 * (seed % 2), expand=False), small))
    return colour.resize((width, height), Image.Resampling.BICUBIC)


def exif_bytes(orientation: int = 1, taken_at: datetime | None = TAKEN_AT) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F], exif[0x0110] = CAMERA
    if taken_at is not None:
        exif.get_ifd(0x8769)[0x9003] = taken_at.strftime("%Y:%m:%d %H:%M:%S")
    return exif.tobytes()


def image_file(
    kind: str,
    width: int = 300,
    height: int = 200,
    *,
    orientation: int = 1,
    taken_at: datetime | None = TAKEN_AT,
    name: str | None = None,
    quality: int = 85,
) -> ImageFile:
    """A `width` x `height` picture as stored (before its EXIF orientation turns it)."""
    pillow_format, mime_type, extension = FORMATS[kind]
    picture = photo(width, height)
    options: dict[str, object] = {}
    if kind in WITH_EXIF:
        options["exif"] = exif_bytes(orientation, taken_at)
    if kind in {"jpeg", "webp", "heic", "avif"}:
        options["quality"] = quality
    if kind == "gif":
        picture = picture.convert("P")
    body = io.BytesIO()
    picture.save(body, pillow_format, **options)
    return ImageFile(name or f"picture.{extension}", mime_type, body.getvalue())


# Colours of the web palette, which GIF frames keep exactly.
FRAME_COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]


def animated_file(kind: str, width: int = 160, height: int = 120) -> ImageFile:
    """An animated GIF or WebP whose frames are each of one colour of FRAME_COLOURS."""
    pillow_format, mime_type, extension = FORMATS[kind]
    pictures = [Image.new("RGB", (width, height), colour) for colour in FRAME_COLOURS]
    if kind == "gif":
        pictures = [p.convert("P") for p in pictures]
    body = io.BytesIO()
    pictures[0].save(
        body, pillow_format, save_all=True, append_images=pictures[1:], duration=100, loop=0
    )
    return ImageFile(f"animated.{extension}", mime_type, body.getvalue())


def png_bomb(width: int = 100_000, height: int = 100_000) -> ImageFile:
    """A PNG of a few hundred bytes whose header declares `width` x `height` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # One scanline of zeros: the rest of the declared image is missing.
    data = zlib.compress(b"\x00" * (1 + 3 * min(width, 1000)))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
    return ImageFile("bomb.png", "image/png", png + chunk(b"IEND", b""))


def truncated_jpeg() -> ImageFile:
    """A JPEG cut short after its header: an image format, but it does not decode."""
    whole = image_file("jpeg", 640, 480).data
    return ImageFile("cut.jpg", "image/jpeg", whole[: len(whole) // 3])
