"""HTTP routes for the sources imports can come from."""

from typing import Annotated

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import QueryParameter

from api.constraints import MAX_LINK_LENGTH, NO_NUL
from api.error_responses import error_responses
from api.sources import service
from api.sources.schemas import DetectedLink, SourceList


class SourceController(Controller):
    tags = ["sources"]

    @get("/sources", responses=error_responses(401))
    async def list_sources(self, state: State) -> SourceList:
        """The sources this service imports from: link forms, capabilities, reading modes."""
        return service.list_sources(state.sources)

    @get("/sources/detect", responses=error_responses(401, 422))
    async def detect_source(
        self,
        state: State,
        url: Annotated[
            str, QueryParameter(max_length=MAX_LINK_LENGTH, pattern=NO_NUL, description="A link.")
        ],
    ) -> DetectedLink:
        """Which source a pasted link belongs to and which folder it names (nothing starts)."""
        return service.detect(state.sources, url)
