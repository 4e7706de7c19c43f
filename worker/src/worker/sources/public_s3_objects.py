"""A public bucket's object as the pipeline knows it: its `SourceFile` record, and its key as a
URL path. The records:
- `FolderRef.folder_id` is `<host>/<bucket>/<prefix>`, for the link's root and every subfolder
  alike (the import's locator gives the endpoint and the bucket);
- `SourceFile.file_id` is `<host>/<bucket>/<key>` (a SHA-256 of it when that would not fit in
  an object key of our store) and `resource_key` the object's key, exactly;
- `checksums` is `{"md5": <ETag>}` when the ETag is an MD5 (a single-part upload); a multipart
  ETag (`<hex>-<parts>`) or another server's opaque one gives none, and the file is checked by
  size only;
- `version` is the ETag, whatever its kind: an object's ETag changes whenever it is written
  again, so with the size it finds an object unchanged on a re-import or sync, multipart ones
  included. It is not checked against the bytes.
"""

import hashlib
import mimetypes
from urllib.parse import quote

from domain.sources.public_s3 import PublicS3Folder
from domain.sources.records import MD5
from worker.sources.base import SourceFile
from worker.sources.media_types import image_type_by_extension
from worker.sources.public_s3_xml import ListedObject

# Our store's keys are `public_s3/<the file id, URL-encoded>`, and S3 keys at most 1,024 bytes.
MAX_FILE_ID_BYTES = 900


def object_path(key: str) -> str:
    """The key as a URL path: each segment percent-encoded, and `.` and `..` segments too, which
    a URL would otherwise resolve away."""
    segments = []
    for segment in key.split("/"):
        if segment in {".", ".."}:
            segments.append(segment.replace(".", "%2E"))
        else:
            segments.append(quote(segment, safe="-_.~"))
    return "/".join(segments)


def guess_mime_type(name: str) -> str:
    """A listing gives no media types: the name's extension decides which files are transferred
    (and the first bytes, which image type is stored)."""
    return (
        image_type_by_extension(name) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    )


def source_file(bucket: PublicS3Folder, item: ListedObject, name: str) -> SourceFile:
    """The record of a listed object, `name` being its key below the folder listed."""
    file_id = f"{bucket.base_id}{item.key}"
    if len(quote(file_id, safe="-_.").encode()) > MAX_FILE_ID_BYTES:
        file_id = f"{bucket.base_id}sha256:{hashlib.sha256(item.key.encode()).hexdigest()}"
    md5 = item.md5
    return SourceFile(
        file_id=file_id,
        name=name,
        mime_type=guess_mime_type(name),
        size=item.size,
        checksums={MD5: md5} if md5 else {},
        resource_key=item.key,
        version=item.etag or None,
    )
