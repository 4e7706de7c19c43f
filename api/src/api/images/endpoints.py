"""HTTP routes for the image catalogue."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_307_TEMPORARY_REDIRECT

from api.constraints import MAX_FILTER_LENGTH, NO_NUL, Cursor, PageLimit
from api.db import provide_autocommit_connection
from api.error_responses import error_responses
from api.images import service
from api.images.limits import provide_listing_connection
from api.images.repository import ImageFilters, Sort
from api.images.schemas import ImagePage, ImageView, StorageTotals, ThumbnailProgress
from domain.db import Connection

MimeType = Annotated[
    str | None,
    QueryParameter(
        max_length=MAX_FILTER_LENGTH, pattern=NO_NUL, description="The MIME type, e.g. image/png."
    ),
]
NameContains = Annotated[
    str | None,
    QueryParameter(
        max_length=MAX_FILTER_LENGTH,
        pattern=NO_NUL,
        description="Case-insensitive: the name contains it.",
    ),
]
# `minimum` again in the schema: Litestar leaves `ge` out of an optional parameter's.
Size = Annotated[
    int | None, QueryParameter(ge=0, schema_extra={"minimum": 0}, description="Size in bytes.")
]
SourceName = Annotated[
    str | None,
    QueryParameter(
        max_length=MAX_FILTER_LENGTH,
        pattern=NO_NUL,
        description="A source's name, as `GET /sources` lists them (e.g. google_drive).",
    ),
]
Pixels = Annotated[
    int | None,
    QueryParameter(
        ge=0,
        schema_extra={"minimum": 0},
        description="Pixels, as displayed (EXIF orientation applied).",
    ),
]
TakenAt = Annotated[
    datetime | None,
    QueryParameter(
        description="A capture time (EXIF DateTimeOriginal, the camera's clock), e.g. "
        "2023-07-14T00:00:00; images without one never match."
    ),
]


class ImageController(Controller):
    tags = ["images"]
    # Every route here reads with one statement.
    dependencies = {"conn": Provide(provide_autocommit_connection)}

    @get(
        "/images",
        responses=error_responses(401, 422),
        dependencies={"conn": Provide(provide_listing_connection)},
    )
    async def list_images(
        self,
        conn: NamedDependency[Connection],
        state: State,
        limit: PageLimit = 50,
        cursor: Cursor = None,
        source: SourceName = None,
        import_id: FromQuery[uuid.UUID | None] = None,
        album_id: Annotated[
            uuid.UUID | None,
            QueryParameter(description="An album's id (GET /albums): the images of its folder."),
        ] = None,
        include_subalbums: Annotated[
            bool,
            QueryParameter(
                description="With album_id: the images of every album below it too (read "
                "through the album tree rather than one index in order, so counted among the "
                "expensive listings)."
            ),
        ] = False,
        mime_type: MimeType = None,
        q: NameContains = None,
        min_size: Size = None,
        max_size: Size = None,
        min_width: Pixels = None,
        min_height: Pixels = None,
        taken_after: TakenAt = None,
        taken_before: TakenAt = None,
        removed: Annotated[
            bool | None,
            QueryParameter(
                description="true: only images a sync found gone from their source; false: "
                "only images their source still has; left out: both."
            ),
        ] = None,
        duplicates: Annotated[
            Literal["only", "hide"] | None,
            QueryParameter(
                description="only: just the copies (images whose bytes an image stored earlier "
                "has); hide: no copies, one image per content; left out: both."
            ),
        ] = None,
        sort: Annotated[
            Sort,
            QueryParameter(
                description="created_at: newest stored first; taken_at: newest taken first, "
                "images without a capture time last."
            ),
        ] = "created_at",
    ) -> ImagePage:
        """Imported images, newest first, filtered; follow `next_cursor` for the next page."""
        filters = ImageFilters(
            source=service.source_filter(state.sources, source),
            import_id=str(import_id) if import_id else None,
            mime_type=mime_type,
            name_contains=q,
            min_size=min_size,
            max_size=max_size,
            min_width=min_width,
            min_height=min_height,
            taken_after=taken_after,
            taken_before=taken_before,
            removed=removed,
            duplicates=duplicates,
            **service.album_filter(album_id, include_subalbums),
        )
        return await service.list_images(
            conn, state.download_links, filters, limit=limit, cursor=cursor, sort=sort
        )

    @get("/images/{image_id:str}", responses=error_responses(401, 404))
    async def get_image(
        self, image_id: FromPath[str], conn: NamedDependency[Connection], state: State
    ) -> ImageView:
        """One imported image, with a fresh download link."""
        return await service.get_image(conn, state.download_links, image_id)

    @get(
        "/images/{image_id:str}/content",
        status_code=HTTP_307_TEMPORARY_REDIRECT,
        responses=error_responses(401, 404),
    )
    async def get_image_content(
        self, image_id: FromPath[str], conn: NamedDependency[Connection], state: State
    ) -> Redirect:
        """Redirect to a short-lived download link for the image's bytes."""
        url = await service.content_url(conn, state.download_links, image_id)
        return Redirect(url, status_code=HTTP_307_TEMPORARY_REDIRECT)

    @get("/storage", responses=error_responses(401))
    async def get_storage_totals(self, conn: NamedDependency[Connection]) -> StorageTotals:
        """Images, the contents they hold and the bytes stored once instead of again."""
        return await service.storage_totals(conn)

    @get("/imports/{import_id:str}/thumbnails", responses=error_responses(401, 404))
    async def get_thumbnail_progress(
        self, import_id: FromPath[str], conn: NamedDependency[Connection]
    ) -> ThumbnailProgress:
        """How far the thumbnails of an import's images are: done, pending, not possible."""
        return await service.thumbnail_progress(conn, import_id)
