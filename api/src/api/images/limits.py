"""How much of the connection pool each expensive kind of image listing may hold.

A text search or a wide range filter costs more than a page of the newest images; with no
bound, sixteen clients searching take every connection and plain reads queue behind them until
the pool's timeout. Each expensive kind gets a share of DB_POOL_MAX_SIZE instead, and a request
beyond it is refused at once (503, Retry-After) rather than queued: the others keep the rest."""

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

from litestar import Request
from litestar.datastructures import State

from api.db import autocommit_connection
from api.errors import Overloaded
from domain.db import Connection

QueryClass = Literal["text_search", "ranges"]
# The parameters that make a listing one of each kind; any other listing walks an index in the
# sort order and stops after a page.
_RANGES = ("min_size", "max_size", "min_width", "min_height", "taken_after", "taken_before")


def query_class(params: Mapping[str, Any]) -> QueryClass | None:
    if params.get("q"):
        return "text_search"
    if any(params.get(name) not in (None, "") for name in _RANGES):
        return "ranges"
    return None


class QueryClasses:
    """Free slots per kind, in one API process. A counter, not a semaphore: nobody waits."""

    def __init__(self, pool_size: int, share: float) -> None:
        self.slots = max(1, int(pool_size * share))
        self._free: dict[QueryClass, int] = {"text_search": self.slots, "ranges": self.slots}

    @contextmanager
    def slot(self, kind: QueryClass | None) -> Iterator[None]:
        if kind is None:
            yield
            return
        if self._free[kind] == 0:
            raise Overloaded(
                f"{self.slots} image listings of this kind ({kind}) are running already; "
                "retry shortly"
            )
        self._free[kind] -= 1
        try:
            yield
        finally:
            self._free[kind] += 1


async def provide_listing_connection(
    state: State, request: Request[Any, Any, Any]
) -> AsyncIterator[Connection]:
    """An autocommit connection, taken only once the listing's kind has a free slot."""
    classes: QueryClasses = state.query_classes
    with classes.slot(query_class(request.query_params)):
        async with autocommit_connection(state.db_pool) as conn:
            yield conn
