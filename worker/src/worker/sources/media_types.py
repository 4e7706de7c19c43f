"""Media types from file names, for sources that do not say what a file is."""

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
