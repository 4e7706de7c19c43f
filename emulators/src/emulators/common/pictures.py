"""Real pictures for fixtures that a person looks at: the demo folder a newcomer imports first.

Synthetic bytes (`emulators.google_drive.content`) only start like an image: cheap at any size
and count, which is what load tests need, but nothing decodes them, so an import of them shows
no thumbnail, dimensions or dates. A fixture file with a `picture` is a real, decodable image
instead, drawn here with Pillow (and pillow-heif for HEIC): a small landscape in colours drawn
from its seed, with the EXIF a camera writes (capture time, make and model, orientation).

A picture is a pure function of its description, so the same description gives the same bytes
(two fixture files with one description are exact duplicates) and a render is cached. Drawing
and encoding a 480 x 360 JPEG takes a few milliseconds; fixtures of thousands of files keep
synthetic bytes.

    picture:                       # in a fixture file spec; `true` for every default
      seed: 3                      # default: drawn from the file's place in the fixture
      width: 480                   # the picture as seen upright
      height: 360
      taken_at: 2023-07-14T09:30:00  # EXIF DateTimeOriginal (none if null); with a
      taken_every_minutes: 47        # name_pattern, file i is taken (i - start) steps later
      camera: [Apple, iPhone 13]   # EXIF Make and Model (none if null)
      orientation: 6               # EXIF Orientation: pixels stored turned, shown upright
      frames: 4                    # an animated GIF of this many frames
"""

from __future__ import annotations

import functools
import io
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_WIDTH = 480
DEFAULT_HEIGHT = 360
DEFAULT_TAKEN_AT = datetime(2023, 7, 14, 9, 30, 0)
DEFAULT_CAMERA = ("Apple", "iPhone 13")

_PICTURE_KEYS = {
    "seed",
    "width",
    "height",
    "taken_at",
    "taken_every_minutes",
    "camera",
    "orientation",
    "frames",
}
# Pillow's writer and whether the format has a place for EXIF (GIF and BMP have none).
_FORMATS: dict[str, tuple[str, bool]] = {
    "image/jpeg": ("JPEG", True),
    "image/png": ("PNG", True),
    "image/webp": ("WEBP", True),
    "image/heic": ("HEIF", True),
    "image/heif": ("HEIF", True),
    "image/tiff": ("TIFF", True),
    "image/gif": ("GIF", False),
    "image/bmp": ("BMP", False),
}
# EXIF Orientation → the transposition (Pillow's Image.Transpose) that stores an upright
# picture so that a viewer applying the tag (as ImageOps.exif_transpose does) shows it upright.
_STORED_TURNED = {
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_90",
    7: "TRANSVERSE",
    8: "ROTATE_270",
}
_ORIENTATION, _MAKE, _MODEL = 0x0112, 0x010F, 0x0110
_EXIF_IFD, _DATE_TIME_ORIGINAL = 0x8769, 0x9003


@dataclass(frozen=True)
class Picture:
    """What a picture shows and what its EXIF says; `mime_type` picks the encoder."""

    mime_type: str
    seed: int
    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    taken_at: datetime | None = DEFAULT_TAKEN_AT
    camera: tuple[str, str] | None = DEFAULT_CAMERA
    orientation: int = 1
    frames: int = 1

    @property
    def stored_size(self) -> tuple[int, int]:
        """Width and height of the pixels as stored (turned by orientations 5 to 8)."""
        if self.orientation in {5, 6, 7, 8}:
            return self.height, self.width
        return self.width, self.height

    @property
    def has_exif(self) -> bool:
        return _FORMATS[self.mime_type][1]


def can_draw(mime_type: str) -> bool:
    return mime_type in _FORMATS


def picture_from_spec(spec: Any, *, mime_type: str, default_seed: int, index: int = 0) -> Picture:
    """A fixture's `picture` entry (a mapping, or `true` for the defaults) for a file of
    `mime_type`; `index` counts the files of a name_pattern from 0, for their capture times."""
    if not can_draw(mime_type):
        raise ValueError(f"no picture can be drawn as {mime_type}")
    if spec is True:
        spec = {}
    if not isinstance(spec, Mapping):
        raise ValueError("a picture is a mapping, or true")
    unknown = set(spec) - _PICTURE_KEYS
    if unknown:
        raise ValueError(f"unknown picture keys: {sorted(unknown)}")
    picture = Picture(mime_type=mime_type, seed=int(spec.get("seed", default_seed)))
    if "width" in spec or "height" in spec:
        picture = replace(
            picture,
            width=int(spec.get("width", DEFAULT_WIDTH)),
            height=int(spec.get("height", DEFAULT_HEIGHT)),
        )
    if "taken_at" in spec:
        taken = spec["taken_at"]
        if taken is not None and not isinstance(taken, datetime):
            taken = datetime.fromisoformat(str(taken))
        picture = replace(picture, taken_at=taken)
    if picture.taken_at is not None and index:
        step = float(spec.get("taken_every_minutes", 47))
        picture = replace(picture, taken_at=picture.taken_at + timedelta(minutes=step * index))
    if "camera" in spec:
        camera = spec["camera"]
        picture = replace(picture, camera=None if camera is None else (camera[0], camera[1]))
    orientation = int(spec.get("orientation", 1))
    if not 1 <= orientation <= 8:
        raise ValueError(f"EXIF orientation is 1 to 8, not {orientation}")
    return replace(picture, orientation=orientation, frames=max(1, int(spec.get("frames", 1))))


@functools.lru_cache(maxsize=1024)
def render(picture: Picture) -> bytes:
    """The picture's encoded bytes (cached: a duplicate costs nothing)."""
    # Pillow and libheif load when a fixture draws its first picture, not with the emulators:
    # a benchmark's fixture of synthetic bytes does not pay for them.
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    pillow_format, _ = _FORMATS[picture.mime_type]
    frames = [
        _landscape(picture.width, picture.height, picture.seed, frame)
        for frame in range(picture.frames)
    ]
    turn = _STORED_TURNED.get(picture.orientation)
    if turn is not None:
        frames = [frame.transpose(Image.Transpose[turn]) for frame in frames]
    options: dict[str, Any] = {}
    if picture.has_exif:
        options["exif"] = _exif(picture, Image.Exif())
    if pillow_format in {"JPEG", "WEBP", "HEIF"}:
        options["quality"] = 82
    if pillow_format == "GIF":
        frames = [frame.convert("P", palette=Image.Palette.ADAPTIVE, colors=64) for frame in frames]
        if len(frames) > 1:
            options |= {"save_all": True, "append_images": frames[1:], "duration": 250, "loop": 0}
    body = io.BytesIO()
    frames[0].save(body, pillow_format, **options)
    return body.getvalue()


def _exif(picture: Picture, exif: Image.Exif) -> bytes:
    exif[_ORIENTATION] = picture.orientation
    if picture.camera is not None:
        exif[_MAKE], exif[_MODEL] = picture.camera
    if picture.taken_at is not None:
        exif.get_ifd(_EXIF_IFD)[_DATE_TIME_ORIGINAL] = picture.taken_at.strftime(
            "%Y:%m:%d %H:%M:%S"
        )
    return exif.tobytes()


def _landscape(width: int, height: int, seed: int, frame: int) -> Image.Image:
    """A sky, a sun and three ranges of hills, in colours drawn from `seed`; frames of an
    animation move the sun."""
    from PIL import Image, ImageDraw

    numbers = random.Random(seed)
    hue = numbers.random()
    top, bottom = _colour(hue, 0.55, 0.55), _colour(hue + 0.08, 0.35, 0.92)
    picture = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(picture)
    for y in range(height):
        share = y / max(1, height - 1)
        draw.line(
            [(0, y), (width, y)],
            fill=tuple(round(a + (b - a) * share) for a, b in zip(top, bottom, strict=True)),
        )
    radius = max(4, min(width, height) // 10)
    sun_x = width * (0.2 + 0.6 * numbers.random()) + frame * width / 12
    sun_y = height * (0.15 + 0.2 * numbers.random())
    draw.ellipse(
        [sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius],
        fill=_colour(hue + 0.5, 0.6, 0.98),
    )
    for layer in range(3):
        base = height * (0.45 + 0.17 * layer)
        amplitude = height * (0.05 + 0.06 * numbers.random())
        waves = 1 + 3 * numbers.random()
        phase = 2 * math.pi * numbers.random()
        points = [
            (x, base - amplitude * math.sin(phase + waves * 2 * math.pi * x / width))
            for x in range(0, width + 8, 8)
        ]
        shade = _colour(hue + 0.3 + 0.05 * layer, 0.45, 0.55 - 0.15 * layer)
        draw.polygon([(0, height), *points, (width, height)], fill=shade)
    return picture


def _colour(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    """An RGB triple from hue, saturation and value in 0..1 (hue wraps around)."""
    hue = (hue % 1.0) * 6
    sector, within = int(hue), hue - int(hue)
    low = value * (1 - saturation)
    falling = value * (1 - saturation * within)
    rising = value * (1 - saturation * (1 - within))
    red, green, blue = [
        (value, rising, low),
        (falling, value, low),
        (low, value, rising),
        (low, falling, value),
        (rising, low, value),
        (value, low, falling),
    ][sector % 6]
    return round(red * 255), round(green * 255), round(blue * 255)
