"""HTTP routes for albums: the source folders the catalogue's images were found in."""

import uuid
from typing import Annotated

from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter

from api.albums import service
from api.albums.repository import AlbumFilters
from api.albums.schemas import AlbumDetail, AlbumPage
from api.constraints import MAX_FILTER_LENGTH, NO_NUL, Cursor, PageLimit
from api.db import provide_autocommit_connection
from api.error_responses import error_responses
from api.images.service import source_filter
from domain.db import Connection


class AlbumController(Controller):
    tags = ["albums"]
    # Reads only, each statement its own snapshot (an album's page takes a few: the album, its
    # trail, its subalbums, its images), bounded by DB_STATEMENT_TIMEOUT_SECONDS.
    dependencies = {"conn": Provide(provide_autocommit_connection)}

    @get(
        "/albums",
        responses=error_responses(401, 422),
    )
    async def list_albums(
        self,
        conn: NamedDependency[Connection],
        state: State,
        limit: PageLimit = 50,
        cursor: Cursor = None,
        parent_id: Annotated[
            uuid.UUID | None,
            QueryParameter(description="Only the albums directly inside this one."),
        ] = None,
        top_level: Annotated[
            bool | None,
            QueryParameter(
                description="true: only albums inside no other (the folders imports started "
                "from); false: only those inside another; left out: both."
            ),
        ] = None,
        source: Annotated[
            str | None,
            QueryParameter(
                max_length=MAX_FILTER_LENGTH,
                pattern=NO_NUL,
                description="A source's name, as `GET /sources` lists them (e.g. google_drive).",
            ),
        ] = None,
        q: Annotated[
            str | None,
            QueryParameter(
                max_length=MAX_FILTER_LENGTH,
                pattern=NO_NUL,
                description="Case-insensitive: the album's name contains it.",
            ),
        ] = None,
    ) -> AlbumPage:
        """Albums in path order (a folder's subalbums by name), filtered; follow
        `next_cursor` for the next page."""
        filters = AlbumFilters(
            parent_id=str(parent_id) if parent_id else None,
            top_level=top_level,
            source=source_filter(state.sources, source),
            name_contains=q or None,
        )
        return await service.list_albums(
            conn, state.download_links, filters, limit=limit, cursor=cursor
        )

    @get(
        "/albums/{album_id:str}",
        responses=error_responses(401, 404),
    )
    async def get_album(
        self,
        album_id: FromPath[str],
        conn: NamedDependency[Connection],
        state: State,
        limit: PageLimit = 50,
        cursor: Cursor = None,
    ) -> AlbumDetail:
        """One album: its breadcrumbs, its subalbums (first page only), then a page of its
        images by name; pass `images.next_cursor` back as `cursor` for the next."""
        return await service.get_album(
            conn, state.download_links, album_id, limit=limit, cursor=cursor
        )
