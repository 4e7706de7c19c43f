"""The gallery's filters: read once from a page's query (or the selection form, which carries
them), and said the one way the API takes them, for a page of images (`GET /images`) and for
a ZIP of every image they show (`POST /archives`)."""

from typing import Any

from litestar.params import FromQuery

# The filters the gallery's form and its selection form send; an empty field is "any".
GALLERY_FILTERS = ("q", "source", "import_id", "mime_type", "show_removed", "hide_copies")


async def gallery_filters(
    q: FromQuery[str | None] = None,
    source: FromQuery[str | None] = None,
    import_id: FromQuery[str | None] = None,
    mime_type: FromQuery[str | None] = None,
    show_removed: FromQuery[bool] = False,
    hide_copies: FromQuery[bool] = False,
) -> dict[str, str]:
    """The gallery's filters in use, from the query of the grid and of its next tiles alike."""
    return chosen_filters(
        {
            "q": q,
            "source": source,
            "import_id": import_id,
            "mime_type": mime_type,
            "show_removed": "true" if show_removed else None,
            "hide_copies": "true" if hide_copies else None,
        }
    )


def chosen_filters(values: dict[str, Any]) -> dict[str, str]:
    """The filters given a value, without the empty ones a form sends for "any"."""
    return {
        name: value.strip()
        for name, value in values.items()
        if name in GALLERY_FILTERS and isinstance(value, str) and value.strip()
    }


def api_selection(filters: dict[str, str]) -> dict[str, Any]:
    """The filters as the API's image filters name them: removed images left out unless
    shown; copies of an image stored before (same bytes) left out when asked."""
    chosen: dict[str, Any] = {
        name: value
        for name, value in filters.items()
        if name not in ("show_removed", "hide_copies")
    }
    if "show_removed" not in filters:
        chosen["removed"] = False
    if "hide_copies" in filters:
        chosen["duplicates"] = "hide"
    return chosen


def api_query(filters: dict[str, str]) -> dict[str, str]:
    """`api_selection` as the query of GET /images."""
    return {
        name: ("true" if value else "false") if isinstance(value, bool) else value
        for name, value in api_selection(filters).items()
    }
