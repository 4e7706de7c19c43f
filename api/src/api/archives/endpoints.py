"""HTTP routes for archives: an import's images, or a selection, as one ZIP download."""

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from api.archives import repository
from api.archives.names import safe_name
from api.archives.repository import ArchiveImage
from api.archives.schemas import ArchiveLink, ArchiveRequest, ImageSelection
from api.archives.service import Archives, archive_entries
from api.archives.zip_layout import ZipLayout
from api.db import autocommit_connection
from api.error_responses import error_responses
from api.errors import InvalidInput, NotFound
from api.ids import parse_id
from api.images import repository as image_rows
from api.images import service as image_service
from api.images.repository import ImageFilters
from api.settings import Settings
from domain.db import Connection

# A selection of ARCHIVE_MAX_IMAGES ids (100,000 by default) is about 4 MB of JSON.
MAX_ARCHIVE_REQUEST_BYTES = 8 * 1024 * 1024
# Images read per statement when a filter selects them.
_SELECTION_PAGE = 1000

_ZIP = "application/zip"
_ARCHIVE_RESPONSES = {
    206: ResponseSpec(
        data_container=bytes,
        media_type=_ZIP,
        description="The part of the archive a `Range: bytes=first-last` asked for "
        "(Content-Range says where it lies); `If-Range` with the ETag keeps it to the same "
        "archive.",
        generate_examples=False,
    ),
    **error_responses(401, 404, 409, 416),
}


class ArchiveController(Controller):
    tags = ["archives"]

    @get(
        "/imports/{import_id:str}/archive",
        media_type=_ZIP,
        responses=_ARCHIVE_RESPONSES,
    )
    async def get_import_archive(
        self, import_id: FromPath[str], request: Request[Any, Any, Any], state: State
    ) -> Response[Any]:
        """The import's images as one ZIP (entries stored, ZIP64 where needed), under their own
        names made safe for every system; Content-Length known, Range resumes."""
        parsed_id = parse_id(import_id, "import")
        # Not the request's connection: none is held while the bytes stream.
        async with autocommit_connection(state.db_pool) as conn:
            found = await repository.import_images(conn, parsed_id)
        if found is None:
            raise NotFound(f"no import with id {import_id}")
        folder_name, images = found
        _within_limit(len(images), state.settings)
        archives: Archives = state.archives
        # Saved under the folder's name, as the source gives it, when it gives one.
        name = folder_name or f"import-{parsed_id[:8]}"
        return await archives.respond(images, name, request.headers)

    @get(
        "/albums/{album_id:str}/archive",
        media_type=_ZIP,
        responses=_ARCHIVE_RESPONSES,
    )
    async def get_album_archive(
        self, album_id: FromPath[str], request: Request[Any, Any, Any], state: State
    ) -> Response[Any]:
        """The album's images and those of the albums below it as one ZIP, in their folders
        below it, saved under the album's name; Content-Length known, Range resumes."""
        parsed_id = parse_id(album_id, "album")
        async with autocommit_connection(state.db_pool) as conn:
            found = await repository.album_images(conn, parsed_id)
        if found is None:
            raise NotFound(f"no album with id {album_id}")
        name, images = found
        _within_limit(len(images), state.settings)
        archives: Archives = state.archives
        return await archives.respond(images, name, request.headers)

    @post(
        "/archives",
        status_code=HTTP_201_CREATED,
        request_max_body_size=MAX_ARCHIVE_REQUEST_BYTES,
        responses=error_responses(401, 413, 415, 429),
    )
    async def create_archive(
        self, data: JSONBody[ArchiveRequest], conn: NamedDependency[Connection], state: State
    ) -> Response[ArchiveLink]:
        """Keep a selection of images (ids, a filter of GET /images, or both) for download:
        GET the `url` answered (also in Location) for the ZIP, resumable with Range."""
        settings: Settings = state.settings
        image_ids = await _selected_ids(conn, data, state)
        if not image_ids:
            raise InvalidInput("the selection holds no image")
        images = await repository.images_by_id(conn, image_ids)
        if len(images) != len(image_ids):
            known = {image.id for image in images}
            unknown = [i for i in image_ids if i not in known]
            raise InvalidInput(
                f"no image with id {', '.join(unknown[:5])}"
                + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""),
                field="image_ids",
            )
        name = data.name or f"images-{datetime.now(UTC):%Y-%m-%d}"
        kept = await repository.keep_selection(
            conn, name, image_ids, forget_after_seconds=settings.archive_link_ttl_seconds
        )
        url = f"/archives/{kept.id}"
        return Response(
            ArchiveLink(
                id=kept.id,
                url=url,
                name=f"{safe_name(name)}.zip",
                images=len(images),
                size=archive_size(images),
                expires_at=kept.created_at + timedelta(seconds=settings.archive_link_ttl_seconds),
            ),
            status_code=HTTP_201_CREATED,
            headers={"Location": url},
        )

    @get(
        "/archives/{archive_id:str}",
        media_type=_ZIP,
        responses=_ARCHIVE_RESPONSES,
    )
    async def get_archive(
        self, archive_id: FromPath[str], request: Request[Any, Any, Any], state: State
    ) -> Response[Any]:
        """A kept selection's images as one ZIP, in the order chosen; Range resumes it."""
        settings: Settings = state.settings
        parsed_id = parse_id(archive_id, "archive")
        async with autocommit_connection(state.db_pool) as conn:
            kept = await repository.kept_selection(conn, parsed_id)
            expired = kept is not None and datetime.now(UTC) - kept.created_at > timedelta(
                seconds=settings.archive_link_ttl_seconds
            )
            if kept is None or expired:
                raise NotFound(f"no archive with id {archive_id} (links last a limited time)")
            images = await repository.images_by_id(conn, kept.image_ids)
        archives: Archives = state.archives
        return await archives.respond(images, kept.name, request.headers)


def archive_size(images: list[ArchiveImage]) -> int:
    """The archive's size in bytes: it depends on names and sizes only, not on CRC-32s."""
    return ZipLayout(archive_entries(image._replace(crc32="0") for image in images)).size


def _within_limit(count: int, settings: Settings) -> None:
    if count > settings.archive_max_images:
        raise InvalidInput(
            f"{count} images are more than the {settings.archive_max_images} an archive may "
            "hold (ARCHIVE_MAX_IMAGES): select fewer"
        )


async def _selected_ids(conn: Connection, data: ArchiveRequest, state: State) -> list[str]:
    """The ids named, then those the filter selects, each once, up to the limit (refused
    beyond it)."""
    settings: Settings = state.settings
    limit = settings.archive_max_images
    chosen = dict.fromkeys(str(image_id) for image_id in data.image_ids or [])
    _within_limit(len(chosen), settings)
    if data.filter is not None:
        filters = _image_filters(data.filter, state)
        after = None
        while True:
            rows = await image_rows.list_images(conn, filters, limit=_SELECTION_PAGE, after=after)
            chosen.update(dict.fromkeys(row.id for row in rows))
            _within_limit(len(chosen), settings)
            if len(rows) < _SELECTION_PAGE:
                break
            after = (rows[-1].created_at, rows[-1].id)
    return list(chosen)[: limit + 1]


def _image_filters(selection: ImageSelection, state: State) -> ImageFilters:
    def camera_clock(moment: datetime | None) -> datetime | None:
        # As GET /images compares them: the UTC wall clock a zoned time names.
        if moment is None or moment.tzinfo is None:
            return moment
        return moment.astimezone(UTC).replace(tzinfo=None)

    return ImageFilters(
        source=image_service.source_filter(state.sources, selection.source),
        import_id=str(selection.import_id) if selection.import_id else None,
        mime_type=selection.mime_type,
        name_contains=selection.q or None,
        min_size=selection.min_size,
        max_size=selection.max_size,
        min_width=selection.min_width,
        min_height=selection.min_height,
        taken_after=camera_clock(selection.taken_after),
        taken_before=camera_clock(selection.taken_before),
        removed=selection.removed,
        duplicates=selection.duplicates,
        **image_service.album_filter(selection.album_id, selection.include_subalbums),
    )
