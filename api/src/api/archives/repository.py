"""SQL of archives: the images an archive holds, in its order, and the selections kept for a
link to download (table `archives`)."""

from datetime import datetime
from typing import NamedTuple

from psycopg.rows import args_row

from domain.db import Connection


class ArchiveImage(NamedTuple):
    """What an archive needs of an image."""

    id: str
    name: str
    # The folder below the import's root ('/'-separated, '' at the root).
    folder: str
    size: int
    # The recorded CRC-32 (8 hex digits); None for images stored before it was recorded.
    crc32: str | None
    storage_path: str
    # The capture time, else when stored (UTC): the entry's modification time.
    modified: datetime


_AS_ARCHIVE_IMAGE = args_row(ArchiveImage)
# ArchiveImage's columns: the folder is the path of the image's album (its folder at the
# source; '' for an image stored before albums), which `below_common_folder` makes relative.
# 'crc32' is domain.sources.records.CRC32.
_COLUMNS = """images.id::text, images.name, coalesce(albums.path, '') AS folder, images.size,
              images.checksums ->> 'crc32' AS crc32, images.storage_path,
              coalesce(images.taken_at, images.created_at AT TIME ZONE 'UTC') AS modified"""
_IMPORT_IMAGES = f"""
    SELECT {_COLUMNS}
    FROM imports i JOIN images ON images.import_id = i.id
    LEFT JOIN albums ON albums.id = images.album_id
    WHERE i.id = %s
    ORDER BY folder, images.name, images.id
"""  # noqa: S608 (constant text only)
_IMAGES_BY_ID = f"""
    SELECT {_COLUMNS}
    FROM unnest(%s::uuid[]) WITH ORDINALITY AS chosen(id, position)
    JOIN images ON images.id = chosen.id
    LEFT JOIN albums ON albums.id = images.album_id
    ORDER BY chosen.position
"""  # noqa: S608 (constant text only)
# An album's images and those of every album below it (by path: the same source's albums
# whose path continues the album's), by folder and name.
_ALBUM_IMAGES = f"""
    SELECT {_COLUMNS}
    FROM albums top
    JOIN albums ON albums.source = top.source
               AND (albums.id = top.id
                    OR left(albums.path, length(top.path) + 1) = top.path || '/')
    JOIN images ON images.album_id = albums.id
    WHERE top.id = %s AND images.removed_at IS NULL
    ORDER BY folder, images.name, images.id
"""  # noqa: S608 (constant text only)


async def import_images(
    conn: Connection, import_id: str
) -> tuple[str | None, list[ArchiveImage]] | None:
    """The import's folder name (None when the source gave none) and its images, by folder and
    name; None when there is no such import."""
    found = await conn.execute("SELECT folder_name FROM imports WHERE id = %s", (import_id,))
    row = await found.fetchone()
    if row is None:
        return None
    cur = conn.cursor(row_factory=_AS_ARCHIVE_IMAGE)
    await cur.execute(_IMPORT_IMAGES, (import_id,))
    return row["folder_name"], below_common_folder(await cur.fetchall())


async def album_images(conn: Connection, album_id: str) -> tuple[str, list[ArchiveImage]] | None:
    """The album's name and the images of it and of the albums below it, their folders below
    it; None when there is no such album."""
    found = await conn.execute("SELECT name, path FROM albums WHERE id = %s", (album_id,))
    album = await found.fetchone()
    if album is None:
        return None
    cur = conn.cursor(row_factory=_AS_ARCHIVE_IMAGE)
    await cur.execute(_ALBUM_IMAGES, (album_id,))
    return album["name"], below_folder(await cur.fetchall(), album["path"])


def below_common_folder(images: list[ArchiveImage]) -> list[ArchiveImage]:
    """The images with their folders made relative to the deepest folder holding them all
    (an import's images sit at the archive's root, their subfolders below it)."""
    folders = [image.folder.split("/") if image.folder else [] for image in images]
    common: list[str] = folders[0] if folders else []
    for parts in folders[1:]:
        length = 0
        while length < min(len(common), len(parts)) and common[length] == parts[length]:
            length += 1
        common = common[:length]
    return below_folder(images, "/".join(common))


def below_folder(images: list[ArchiveImage], folder: str) -> list[ArchiveImage]:
    """The images with `folder` (a path they all lie under) taken off their folders."""
    if not folder:
        return images
    cut = len(folder) + 1
    return [
        image._replace(folder="" if image.folder == folder else image.folder[cut:])
        for image in images
    ]


async def images_by_id(conn: Connection, image_ids: list[str]) -> list[ArchiveImage]:
    """The images named, in the order named, their folders below the deepest one holding them
    all; an unknown id is left out."""
    cur = conn.cursor(row_factory=_AS_ARCHIVE_IMAGE)
    await cur.execute(_IMAGES_BY_ID, (image_ids,))
    return below_common_folder(await cur.fetchall())


async def record_crc32(conn: Connection, crc32_by_image: dict[str, str]) -> None:
    """Record CRC-32s computed for images stored before the worker recorded them."""
    await conn.execute(
        """
        UPDATE images SET checksums = images.checksums || jsonb_build_object('crc32', t.crc32)
        FROM unnest(%s::uuid[], %s::text[]) AS t(id, crc32)
        WHERE images.id = t.id AND NOT images.checksums ? 'crc32'
        """,
        (list(crc32_by_image), list(crc32_by_image.values())),
    )


class KeptSelection(NamedTuple):
    id: str
    name: str
    image_ids: list[str]
    created_at: datetime


async def keep_selection(
    conn: Connection, name: str, image_ids: list[str], *, forget_after_seconds: int
) -> KeptSelection:
    """Keep a selection for its download link; selections older than `forget_after_seconds`
    are forgotten on the way."""
    await conn.execute(
        "DELETE FROM archives WHERE created_at < now() - make_interval(secs => %s)",
        (forget_after_seconds,),
    )
    cur = conn.cursor(row_factory=args_row(KeptSelection))
    await cur.execute(
        """
        INSERT INTO archives (name, image_ids) VALUES (%s, %s::uuid[])
        RETURNING id::text, name, image_ids::text[], created_at
        """,
        (name, image_ids),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def kept_selection(conn: Connection, archive_id: str) -> KeptSelection | None:
    cur = conn.cursor(row_factory=args_row(KeptSelection))
    await cur.execute(
        "SELECT id::text, name, image_ids::text[], created_at FROM archives WHERE id = %s",
        (archive_id,),
    )
    return await cur.fetchone()
