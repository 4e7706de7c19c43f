"""Whether a request wants a whole page or the fragment htmx swaps into one, and the answers
that differ between the two."""

from typing import Any, Protocol
from urllib.parse import urlencode

from litestar import Response
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER


class ListPage(Protocol):
    @property
    def next_cursor(self) -> str | None: ...


def wants_fragment(request: HTMXRequest) -> bool:
    """An htmx request swaps part of a page; a history restore after a cache miss needs it all."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def go_to(request: HTMXRequest, target: str) -> Response[Any]:
    """After a form's change, to the page that shows it: htmx follows a ClientRedirect, a plain
    form a 303."""
    if wants_fragment(request):
        return ClientRedirect(target)
    return Redirect(target, status_code=HTTP_303_SEE_OTHER)


def paged_list(
    request: HTMXRequest, name: str, page: ListPage, cursor: str | None, *, live: bool
) -> Template:
    """One page of the list at `/{name}` (`imports`, `syncs`), newest first: the table
    (`_{name}_table.html`) alone for htmx, else the whole page (`{name}.html`). The newest page
    refreshes itself while an item of it is `live`; older ones stay still."""
    context = {
        name: page,
        "cursor": cursor,
        "poll_url": f"/{name}" if live and not cursor else None,
        "older_url": f"/{name}?{urlencode({'cursor': page.next_cursor or ''})}",
    }
    template = f"_{name}_table.html" if wants_fragment(request) else f"{name}.html"
    return Template(template, context=context)
