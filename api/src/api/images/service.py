"""Browsing the image catalogue."""

import dataclasses
import uuid
from datetime import UTC, datetime

from api.cursor import decode_cursor, encode_cursor, next_page
from api.errors import InvalidInput, NotFound
from api.ids import parse_id
from api.images import repository
from api.images.repository import ImageFilters, ImageRow, Sort
from api.images.schemas import (
    ImagePage,
    ImageView,
    StorageTotals,
    ThumbnailProgress,
    ThumbnailStatus,
)
from domain.contents import repository as content_rows
from domain.db import Connection
from domain.derivatives import repository as derivative_rows
from domain.s3_signing import DownloadLinks, LinkSigner
from domain.sources.registry import InvalidLink, Registry


def source_filter(sources: Registry, name: str | None) -> str | None:
    """The source a `source` filter names, refused (naming the filter) when none is called so."""
    if not name:
        return None
    try:
        return sources.get(name).name
    except InvalidLink as exc:
        raise InvalidInput(str(exc), field="source") from None


def album_filter(album_id: uuid.UUID | None, include_subalbums: bool) -> dict[str, str]:
    """The filter an `album_id` (and `include_subalbums`) makes, as ImageFilters fields."""
    if album_id is None:
        if include_subalbums:
            raise InvalidInput(
                "include_subalbums needs album_id: the album whose subalbums to include",
                field="include_subalbums",
            )
        return {}
    return {"album_tree" if include_subalbums else "album_id": str(album_id)}


async def list_images(
    conn: Connection,
    links: DownloadLinks,
    filters: ImageFilters,
    *,
    limit: int,
    cursor: str | None,
    sort: Sort = "created_at",
) -> ImagePage:
    min_size, max_size = filters.min_size, filters.max_size
    if min_size is not None and max_size is not None and min_size > max_size:
        raise InvalidInput(f"min_size ({min_size}) is greater than max_size ({max_size})")
    taken_after, taken_before = filters.taken_after, filters.taken_before
    if taken_after is not None and taken_before is not None and taken_after >= taken_before:
        raise InvalidInput(
            f"taken_after ({taken_after.isoformat()}) is not before taken_before "
            f"({taken_before.isoformat()})"
        )
    filters = dataclasses.replace(
        filters,
        # An empty q narrows nothing; said so, it costs no text search.
        name_contains=filters.name_contains or None,
        taken_after=_as_camera_clock(taken_after),
        taken_before=_as_camera_clock(taken_before),
    )
    after = decode_cursor(cursor) if cursor else None
    rows = await repository.list_images(conn, filters, limit=limit + 1, after=after, sort=sort)
    rows, next_cursor = next_page(
        rows, limit, lambda row: encode_cursor(repository.sort_key(row, sort), row.id)
    )
    signer = links.signer()
    return ImagePage(items=[to_view(row, signer) for row in rows], next_cursor=next_cursor)


async def get_image(conn: Connection, links: DownloadLinks, image_id: str) -> ImageView:
    return to_view(await _get_row(conn, image_id), links.signer())


async def content_url(conn: Connection, links: DownloadLinks, image_id: str) -> str:
    """A presigned link to the image's bytes: clients download from S3, not through the API,
    and save them under the image's own name."""
    row = await _get_row(conn, image_id)
    bucket, key = _location(row)
    return links.url_for(bucket, key, download_name=row.name)


async def storage_totals(conn: Connection) -> StorageTotals:
    totals = await content_rows.storage_totals(conn)
    return StorageTotals(
        images=totals.images,
        contents=totals.contents,
        image_bytes=totals.image_bytes,
        stored_bytes=totals.stored_bytes,
        bytes_saved=totals.bytes_saved,
    )


async def thumbnail_progress(conn: Connection, import_id: str) -> ThumbnailProgress:
    parsed_id = parse_id(import_id, "import")
    progress = await derivative_rows.derivative_progress(conn, parsed_id)
    if progress is None:
        raise NotFound(f"no import with id {import_id}")
    return ThumbnailProgress(import_id=parsed_id, **progress._asdict())


async def _get_row(conn: Connection, image_id: str) -> ImageRow:
    parsed_id = parse_id(image_id, "image")
    row = await repository.get_image(conn, parsed_id)
    if row is None:
        raise NotFound(f"no image with id {image_id}")
    return row


def _location(row: ImageRow) -> tuple[str, str]:
    bucket, _, key = row.storage_path.removeprefix("s3://").partition("/")
    return bucket, key


# Why an image has no thumbnail yet, by its derivative state (not_possible has its own).
_WAITING = {
    "pending": "being made: thumbnails are made after the import, on a queue of their own",
    "missing": (
        "not made: the image was stored before thumbnails existed, or its job was cancelled; "
        "the backfill (make backfill-derivatives) queues it"
    ),
}


def thumbnail_status(derivative_state: str) -> ThumbnailStatus:
    # A backfill's request waits for its job like any pending image.
    if derivative_state in {"requested", "pending"}:
        return "pending"
    if derivative_state in {"done", "not_possible", "missing"}:
        return derivative_state  # type: ignore[return-value]
    raise ValueError(f"unknown derivative state {derivative_state!r}")


def to_view(row: ImageRow, signer: LinkSigner) -> ImageView:
    bucket, key = _location(row)
    thumbnail_url = None
    reason = None
    if row.derivative_state == "done" and row.thumbnail_key:
        thumbnail_url = signer.url_for(bucket, row.thumbnail_key)
    elif row.derivative_state == "not_possible":
        reason = row.derivative_reason or "no thumbnail can be made of this file"
    else:
        reason = _WAITING.get(row.derivative_state, _WAITING["pending"])
    return ImageView(
        id=row.id,
        source=row.source,
        source_file_id=row.source_file_id,
        google_drive_id=row.google_drive_id,
        import_id=row.import_id,
        name=row.name,
        mime_type=row.mime_type,
        size=row.size,
        md5_checksum=row.md5_checksum,
        storage_path=row.storage_path,
        url=signer.url_for(bucket, key, download_name=row.name),
        created_at=row.created_at,
        updated_at=row.updated_at,
        width=row.width,
        height=row.height,
        taken_at=row.taken_at,
        camera=camera_name(row.camera_make, row.camera_model),
        animated=row.animated,
        thumbnail_url=thumbnail_url,
        thumbnail_status=thumbnail_status(row.derivative_state),
        thumbnail_reason=reason,
        removed_at=row.removed_at,
        content_id=row.content_id,
        duplicate_of=row.duplicate_of,
        duplicates=row.duplicates,
        history=row.history,
        album_id=row.album_id,
    )


def camera_name(make: str | None, model: str | None) -> str | None:
    """ "Apple iPhone 13"; a model that names its maker already ("Canon EOS R5") as it is."""
    if make and model and model.lower().startswith(make.split()[0].lower()):
        return model
    return " ".join(part for part in (make, model) if part) or None


def _as_camera_clock(moment: datetime | None) -> datetime | None:
    """Capture times are the camera's wall clock: a bound given with a time zone is compared
    as the UTC wall clock it names."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
