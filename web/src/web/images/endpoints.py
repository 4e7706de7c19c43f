"""The image gallery: a grid of thumbnails filtered by name, source, import and type, paged by
infinite scroll, and one image's page with its download link."""

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from web.api_client import ApiClient, ApiError
from web.formatting import IMAGE_TYPES
from web.fragments import wants_fragment
from web.schemas import Import
from web.sources import SourceCatalogue

# The tiles are the images' thumbnails (a few KB each): a screenful at a time.
IMAGES_PER_PAGE = 24
IMPORT_CHOICES = 50


async def _filters(
    q: FromQuery[str | None] = None,
    source: FromQuery[str | None] = None,
    import_id: FromQuery[str | None] = None,
    mime_type: FromQuery[str | None] = None,
    show_removed: FromQuery[bool] = False,
    hide_copies: FromQuery[bool] = False,
) -> dict[str, str]:
    """The gallery's filters in use, from the query of the grid and of its next tiles alike: a
    form sends empty fields for "any"."""
    values = {
        "q": q,
        "source": source,
        "import_id": import_id,
        "mime_type": mime_type,
        "show_removed": "true" if show_removed else None,
        "hide_copies": "true" if hide_copies else None,
    }
    return {name: value.strip() for name, value in values.items() if value and value.strip()}


class ImagePages(Controller):
    dependencies = {"filters": Provide(_filters)}

    @get("/images")
    async def gallery(
        self,
        request: HTMXRequest,
        api: NamedDependency[ApiClient],
        filters: NamedDependency[dict[str, str]],
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        """The image grid, filtered by name, source, import and type; images a sync found gone
        from their source only when asked."""
        context, status_code = await _results(api, filters, cursor)
        if wants_fragment(request):
            return Template("_results.html", context=context, status_code=status_code)
        imports = await api.list_imports(limit=IMPORT_CHOICES)
        context |= {
            "sources": request.app.state.sources.names,
            "image_types": IMAGE_TYPES,
            "import_options": _import_options(
                imports.items, filters.get("import_id"), request.app.state.sources
            ),
        }
        return Template("images.html", context=context, status_code=status_code)

    @get("/images/more")
    async def more_images(
        self,
        api: NamedDependency[ApiClient],
        filters: NamedDependency[dict[str, str]],
        cursor: FromQuery[str],
    ) -> Template:
        """The next tiles of the grid, for infinite scroll."""
        context, status_code = await _results(api, filters, cursor)
        return Template("_image_tiles.html", context=context, status_code=status_code)

    @get("/images/{image_id:str}")
    async def show_image(
        self, api: NamedDependency[ApiClient], image_id: FromPath[str]
    ) -> Template:
        """One image with all its metadata and a download link."""
        return Template("image.html", context={"image": await api.get_image(image_id)})

    @get("/images/{image_id:str}/download")
    async def download_image(
        self, api: NamedDependency[ApiClient], image_id: FromPath[str]
    ) -> Redirect:
        """Send the browser to a fresh short-lived link to the image's bytes."""
        return Redirect(await api.image_content_url(image_id))


def _api_filters(filters: dict[str, str]) -> dict[str, str]:
    """The gallery's filters as the API takes them: removed images left out unless shown;
    copies of an image stored before (same bytes) left out when asked."""
    chosen = {
        name: value
        for name, value in filters.items()
        if name not in ("show_removed", "hide_copies")
    }
    if "show_removed" not in filters:
        chosen["removed"] = "false"
    if "hide_copies" in filters:
        chosen["duplicates"] = "hide"
    return chosen


async def _results(
    api: ApiClient, filters: dict[str, str], cursor: str | None
) -> tuple[dict[str, Any], int]:
    """One page of the grid, or why the API refused these filters (a 422, shown in place)."""
    try:
        page = await api.list_images(_api_filters(filters), limit=IMAGES_PER_PAGE, cursor=cursor)
    except ApiError as exc:
        if exc.status_code != 422:
            raise
        error = f"These filters cannot be used: {exc.detail}"
        return {"filters": filters, "page": None, "error": error}, 422
    next_query = urlencode({**filters, "cursor": page.next_cursor}) if page.next_cursor else ""
    # The gallery's tiles can be picked for a ZIP of the selection (its form is in _results).
    context = {"filters": filters, "page": page, "error": None, "next_query": next_query}
    return context | {"pickable": True}, 200


def _import_options(
    imports: list[Import], selected: str | None, sources: SourceCatalogue
) -> dict[str, str]:
    """The imports to filter by, import id: label; the one chosen first when it is not among
    the latest."""
    options = {imp.import_id: _import_label(imp, sources) for imp in imports}
    if selected and selected not in options:
        return {selected: f"Import {selected}", **options}
    return options


def _import_label(imp: Import, sources: SourceCatalogue) -> str:
    return f"{imp.created_at:%d %b %H:%M} · {sources.name_of(imp.source)} · {imp.folder_id}"
