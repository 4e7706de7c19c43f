"""How much of the connection pool each expensive kind of image listing may hold.

A text search or a wide range filter costs more than a page of the newest images; with no
bound, sixteen clients searching take every connection and plain reads queue behind them until
the pool's timeout. Each expensive kind gets a share of DB_POOL_MAX_SIZE instead; a request
beyond it waits at most SLOT_WAIT_SECONDS (about what an indexed listing takes) for a slot, and
is then refused (503, Retry-After) rather than queued for seconds: the others keep the rest."""

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

from litestar import Request
from litestar.datastructures import State

from api.db import autocommit_connection
from api.errors import Overloaded
from domain.db import Connection

QueryClass = Literal["text_search", "ranges"]
# The parameters that make a listing one of each kind; any other listing walks an index in the
# sort order and stops after a page.
# Long enough for a running listing of the kind to finish, short enough that no one queues.
SLOT_WAIT_SECONDS = 0.2
_TRUE = {"true", "1", "yes", "on", "t", "y"}
_RANGES = ("min_size", "max_size", "min_width", "min_height", "taken_after", "taken_before")


def query_class(params: Mapping[str, Any]) -> QueryClass | None:
    if params.get("q"):
        return "text_search"
    if any(params.get(name) not in (None, "") for name in _RANGES):
        return "ranges"
    # A whole album tree's images, sorted: not one index read in order.
    if params.get("album_id") and str(params.get("include_subalbums")).lower() in _TRUE:
        return "ranges"
    return None


class QueryClasses:
    """Slots per kind, in one API process."""

    def __init__(self, pool_size: int, share: float) -> None:
        self.slots = max(1, int(pool_size * share))
        self.free: dict[QueryClass, asyncio.Semaphore] = {
            "text_search": asyncio.Semaphore(self.slots),
            "ranges": asyncio.Semaphore(self.slots),
        }

    @asynccontextmanager
    async def slot(self, kind: QueryClass | None) -> AsyncIterator[None]:
        if kind is None:
            yield
            return
        free = self.free[kind]
        try:
            async with asyncio.timeout(SLOT_WAIT_SECONDS):
                await free.acquire()
        except TimeoutError:
            raise Overloaded(
                f"{self.slots} image listings of this kind ({kind}) are running already; "
                "retry shortly"
            ) from None
        try:
            yield
        finally:
            free.release()


async def provide_listing_connection(
    state: State, request: Request[Any, Any, Any]
) -> AsyncIterator[Connection]:
    """An autocommit connection, taken only once the listing's kind has a free slot."""
    classes: QueryClasses = state.query_classes
    kind = query_class(request.query_params)
    async with classes.slot(kind), autocommit_connection(state.db_pool) as conn:
        yield conn
