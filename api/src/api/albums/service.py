"""Browsing albums: the catalogue's folders, each with its subalbums and its images."""

from api.albums import repository
from api.albums.repository import AlbumFilters, AlbumRow
from api.albums.schemas import AlbumDetail, AlbumImages, AlbumPage, AlbumView, Breadcrumb
from api.cursor import decode_key_cursor, encode_key_cursor, next_page
from api.errors import NotFound
from api.ids import parse_id
from api.images.service import to_view
from domain.db import Connection
from domain.s3_signing import DownloadLinks, LinkSigner

# The subalbums an album's first page shows; GET /albums?parent_id= pages through the rest.
SUBALBUMS_PER_PAGE = 200


async def list_albums(
    conn: Connection,
    links: DownloadLinks,
    filters: AlbumFilters,
    *,
    limit: int,
    cursor: str | None,
) -> AlbumPage:
    after = decode_key_cursor(cursor) if cursor else None
    rows = await repository.list_albums(conn, filters, limit=limit + 1, after=after)
    rows, next_cursor = next_page(rows, limit, _cursor_after)
    signer = links.signer()
    return AlbumPage(items=[to_album_view(row, signer) for row in rows], next_cursor=next_cursor)


async def get_album(
    conn: Connection, links: DownloadLinks, album_id: str, *, limit: int, cursor: str | None
) -> AlbumDetail:
    parsed_id = parse_id(album_id, "album")
    after = decode_key_cursor(cursor) if cursor else None
    album = await repository.get_album(conn, parsed_id)
    if album is None:
        raise NotFound(f"no album with id {album_id}")
    signer = links.signer()
    # The album's row says whether it has subalbums and a parent: a folder without either
    # (most are one or the other) costs no statement to find none. Each statement is a round
    # trip and a turn of the one event loop that 8 clients queue for (README, "Measured").
    subalbums: list[AlbumRow] = []
    subalbums_next = None
    if after is None and album.album_count:
        rows = await repository.list_albums(
            conn, AlbumFilters(parent_id=parsed_id), limit=SUBALBUMS_PER_PAGE + 1, after=None
        )
        subalbums, subalbums_next = next_page(rows, SUBALBUMS_PER_PAGE, _cursor_after)
    image_rows = await repository.album_images(conn, parsed_id, limit=limit + 1, after=after)
    image_rows, images_next = next_page(
        image_rows, limit, lambda row: encode_key_cursor(row.name, row.id)
    )
    crumbs = await repository.ancestors(conn, parsed_id) if album.parent_id else []
    return AlbumDetail(
        album=to_album_view(album, signer),
        breadcrumbs=[Breadcrumb(id=crumb.id, name=crumb.name) for crumb in crumbs],
        subalbums=[to_album_view(row, signer) for row in subalbums],
        subalbums_next_cursor=subalbums_next,
        images=AlbumImages(
            items=[to_view(row, signer) for row in image_rows], next_cursor=images_next
        ),
    )


def _cursor_after(row: AlbumRow) -> str:
    return encode_key_cursor(row.path, row.id)


def to_album_view(row: AlbumRow, signer: LinkSigner) -> AlbumView:
    cover_url = None
    if row.cover_storage_path and row.cover_thumbnail_key:
        bucket = row.cover_storage_path.removeprefix("s3://").partition("/")[0]
        cover_url = signer.url_for(bucket, row.cover_thumbnail_key)
    return AlbumView(
        id=row.id,
        source=row.source,
        source_folder_id=row.source_folder_id,
        name=row.name,
        path=row.path,
        parent_id=row.parent_id,
        image_count=row.image_count,
        album_count=row.album_count,
        cover_image_id=row.cover_image_id,
        cover_thumbnail_url=cover_url,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
