"""Response shapes of the album routes."""

from datetime import datetime

import msgspec

from api.images.schemas import ImageView


class AlbumView(msgspec.Struct):
    id: str
    source: str
    # The folder's id at the source: the album stays this folder's when it is renamed or moved.
    source_folder_id: str
    # The folder's name at the source, as last listed.
    name: str
    # The names from its topmost album down to it, joined by "/".
    path: str
    # The album of the folder it was last listed in; null for a folder only ever imported as
    # a link's own folder.
    parent_id: str | None
    # Its own images (not its subalbums').
    image_count: int
    album_count: int
    # Its first image by name that has a thumbnail; null while none has.
    cover_image_id: str | None
    cover_thumbnail_url: str | None
    created_at: datetime
    updated_at: datetime


class AlbumPage(msgspec.Struct):
    items: list[AlbumView]
    next_cursor: str | None


class Breadcrumb(msgspec.Struct):
    id: str
    name: str


class AlbumImages(msgspec.Struct):
    items: list[ImageView]
    # Pass back as `cursor` for the next page of the album's images.
    next_cursor: str | None


class AlbumDetail(msgspec.Struct):
    """An album as a file manager shows a folder: where it is (breadcrumbs, topmost first, not
    including itself), its subalbums first (on the first page only), then a page of its
    images by name."""

    album: AlbumView
    breadcrumbs: list[Breadcrumb]
    subalbums: list[AlbumView]
    # More subalbums than the first page holds: GET /albums?parent_id=<id>&cursor=<this>.
    subalbums_next_cursor: str | None
    images: AlbumImages
