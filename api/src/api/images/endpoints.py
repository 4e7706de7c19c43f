"""HTTP routes for the image catalogue."""

import uuid
from typing import Annotated, Literal

from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from api.db import Connection
from api.images import service
from api.images.schemas import ImagePage


class ImageController(Controller):
    tags = ["images"]

    @get("/images")
    async def list_images(
        self,
        conn: NamedDependency[Connection],
        state: State,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: FromQuery[str | None] = None,
        source: FromQuery[Literal["google_drive", "dropbox"] | None] = None,
        import_id: FromQuery[uuid.UUID | None] = None,
    ) -> ImagePage:
        """Imported images, newest first; follow `next_cursor` for the next page."""
        return await service.list_images(
            conn,
            state.download_links,
            limit=limit,
            cursor=cursor,
            source=source,
            import_id=import_id,
        )
