"""How a share's WebDAV entry becomes the pipeline's `SourceFile` record (the package docstring
says what each field carries): a file id that stays the same across renames and never meets
another server's, and a media type when the server gives only the generic one.
"""

import hashlib
import mimetypes
from urllib.parse import urlsplit

from domain.sources.nextcloud import NextcloudShare
from worker.sources.base import SourceFile
from worker.sources.media_types import image_type_by_extension
from worker.sources.nextcloud.multistatus import DavEntry


def source_file(share: NextcloudShare, entry: DavEntry, path: str) -> SourceFile:
    """The record of the file at `path` in the share (`/a/b.jpg`), listed as `entry`."""
    name = path.rsplit("/", 1)[-1]
    return SourceFile(
        file_id=share_file_id(share, entry, path),
        name=name,
        mime_type=_media_type(name, entry.content_type),
        size=entry.size,
        checksums=entry.checksums,
        resource_key=path,
        version=entry.etag,
    )


def share_file_id(share: NextcloudShare, entry: DavEntry, path: str) -> str:
    """A file's stable id: the server's own file id (which a rename or a move keeps) on that
    server, or, when the server gives none, the file's path in the share; hashed, as ids from
    two servers must never meet."""
    server = urlsplit(share.base_url).netloc.lower() + urlsplit(share.base_url).path
    identity = (
        f"id\x00{server}\x00{entry.file_id}"
        if entry.file_id
        else (f"path\x00{share.folder_id}\x00{path}")
    )
    return "nc:" + hashlib.sha256(identity.encode()).hexdigest()[:40]


def _media_type(name: str, listed: str | None) -> str:
    """The server's type (Nextcloud's comes from the name too), unless it is the generic one:
    then the name's extension decides. The stored type is checked against the bytes anyway."""
    listed_type = (listed or "").split(";")[0].strip().lower()
    if listed_type and listed_type != "application/octet-stream":
        return listed_type
    return (
        image_type_by_extension(name) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    )
