"""Whether a request wants a whole page or the fragment htmx swaps into one."""

from litestar.plugins.htmx import HTMXRequest


def wants_fragment(request: HTMXRequest) -> bool:
    """An htmx request swaps part of a page; a history restore after a cache miss needs it all."""
    return bool(request.htmx) and not request.htmx.history_restore_request
