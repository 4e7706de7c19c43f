"""Albums, browsed like a file manager: the folders imports started from, then each folder's
subfolders first and its images after, with the trail of folders above it, paged by infinite
scroll."""

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from web.api_client import ApiClient
from web.fragments import wants_fragment
from web.schemas import AlbumPage

# Folders and thumbnails alike: a screenful at a time.
ALBUMS_PER_PAGE = 48
IMAGES_PER_PAGE = 24


class AlbumPages(Controller):
    @get("/albums")
    async def albums(
        self,
        request: HTMXRequest,
        api: NamedDependency[ApiClient],
        q: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        """The top-level albums (the folders imports started from); a name searches them all."""
        query = (q or "").strip()
        filters = {"q": query} if query else {"top_level": "true"}
        page = await api.list_albums(filters, limit=ALBUMS_PER_PAGE, cursor=cursor)
        more = urlencode({"q": query, "cursor": page.next_cursor}) if page.next_cursor else ""
        context: dict[str, Any] = {"q": query, "page": page, "next_query": more}
        if wants_fragment(request):
            template = "_album_tiles.html" if cursor else "_album_results.html"
            return Template(template, context=context)
        return Template("albums.html", context=context)

    @get("/albums/{album_id:str}")
    async def album(
        self,
        request: HTMXRequest,
        api: NamedDependency[ApiClient],
        album_id: FromPath[str],
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        """One album: where it is, its subalbums, then its images by name."""
        detail = await api.get_album(album_id, limit=IMAGES_PER_PAGE, cursor=cursor)
        next_cursor = detail.images.next_cursor
        # The same address serves the next tiles to htmx and the next page without scripts.
        more = f"/albums/{album_id}?{urlencode({'cursor': next_cursor})}" if next_cursor else ""
        context = {
            "detail": detail,
            "page": detail.images,
            "more_href": more,
            "more_tiles": more,
            "folders": AlbumPage(detail.subalbums, detail.subalbums_next_cursor),
            "folders_more": _folders_more(album_id, detail.subalbums_next_cursor),
        }
        if cursor and wants_fragment(request):
            return Template("_image_tiles.html", context=context)
        return Template("album.html", context=context)

    @get("/albums/{album_id:str}/folders")
    async def more_folders(
        self, api: NamedDependency[ApiClient], album_id: FromPath[str], cursor: FromQuery[str]
    ) -> Template:
        """The next subalbums of an album that has more than its page shows."""
        page = await api.list_albums({"parent_id": album_id}, limit=ALBUMS_PER_PAGE, cursor=cursor)
        context = {"page": page, "albums_more": _folders_more(album_id, page.next_cursor)}
        return Template("_album_tiles.html", context=context)


def _folders_more(album_id: str, cursor: str | None) -> str:
    return f"/albums/{album_id}/folders?{urlencode({'cursor': cursor})}" if cursor else ""
