"""Jinja filters that turn the API's numbers and codes into words people read."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from web.sources import SourceCatalogue

NONE = "\u2013"  # an en dash stands for "no value yet"

STATUS_NAMES = {
    "queued": "Queued",
    "running": "Running",
    "completed": "Completed",
    "completed_with_errors": "Completed with errors",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
# The image types the gallery can filter by; the API filters on any exact MIME type.
IMAGE_TYPES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "image/heic": "HEIC",
    "image/heif": "HEIF",
    "image/avif": "AVIF",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
    "image/svg+xml": "SVG",
}

# The schedules the import form offers a sync (the API takes any interval of at least its
# SYNC_MIN_INTERVAL_SECONDS, 15 minutes unless changed), in the API's own short form.
SYNC_INTERVALS = {
    "15m": "every 15 minutes",
    "1h": "every hour",
    "6h": "every 6 hours",
    "1d": "every day",
    "7d": "every week",
}
DEFAULT_SYNC_INTERVAL = "1h"


def file_size(size: int | float | None) -> str:
    """Decimal units, as file managers show them: 1.5 MB = 1,500,000 bytes."""
    if size is None:
        return NONE
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def timestamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value else NONE


@pass_context
def source_name(context: Context, source: str) -> str:
    # The API's names for its sources (web.sources), kept in the app's state.
    catalogue: SourceCatalogue = context["request"].app.state.sources
    return catalogue.name_of(source)


@pass_context
def sources_described(context: Context) -> str:
    catalogue: SourceCatalogue = context["request"].app.state.sources
    return catalogue.described()


def status_name(status: str) -> str:
    return STATUS_NAMES.get(status, status)


def type_name(mime_type: str) -> str:
    return IMAGE_TYPES.get(mime_type, mime_type.removeprefix("image/").upper())


def interval_name(every: str) -> str:
    """`every hour` for `1h`; an interval set through the API as it writes it (`every 1h30m`)."""
    return SYNC_INTERVALS.get(every, f"every {every}")


def number(value: int | None) -> str:
    return NONE if value is None else f"{value:,}"


# The thumbnails' longest side (the worker's THUMBNAIL_LONGEST_SIDE default).
THUMBNAIL_SIDE = 320


def thumbnail_box(width: int | None, height: int | None) -> tuple[int, int]:
    """The thumbnail's width and height, for its img's attributes: the browser reserves its
    aspect ratio before a byte arrives. Square while the dimensions are unknown."""
    if not width or not height:
        return THUMBNAIL_SIDE, THUMBNAIL_SIDE
    scale = THUMBNAIL_SIDE / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def dimensions(width: int | None, height: int | None) -> str:
    return f"{width:,} \u00d7 {height:,}" if width and height else NONE


def capture_time(value: datetime | None) -> str:
    """The camera's clock, which has no time zone."""
    return value.strftime("%Y-%m-%d %H:%M") if value else NONE


def capture_date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else ""


FILTERS: dict[str, Callable[..., Any]] = {
    "thumbnail_box": thumbnail_box,
    "dimensions": dimensions,
    "capture_time": capture_time,
    "capture_date": capture_date,
    "file_size": file_size,
    "duration": duration,
    "timestamp": timestamp,
    "source_name": source_name,
    "status_name": status_name,
    "type_name": type_name,
    "number": number,
    "interval_name": interval_name,
}

GLOBALS: dict[str, Any] = {"sources_described": sources_described, "SYNC_INTERVALS": SYNC_INTERVALS}
