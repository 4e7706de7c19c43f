"""SQL on albums as imports record them (migrations/schema/albums.sql): the root folder of an
import when it starts, and the subfolders each listed page finds. Images take their album by
themselves (a trigger on the images table), from the folder `import_add_files` recorded for
their file.

Functions run inside the caller's transaction and never commit: the job that calls them owns it.
"""

from domain.db import Connection
from domain.sources.records import FolderRef


async def record_root(conn: Connection, source: str, root: FolderRef) -> str:
    """The album of an import's root folder: new at the top, or the known one (which keeps its
    place, and takes the folder's name when the source gave one). A source that gives no name
    names it by the last part of its id (a Dropbox or WebDAV path, an S3 prefix). Returns its
    id."""
    cur = await conn.execute(
        "SELECT album_record_root(%s, %s, %s)::text AS album_id",
        (source, root.folder_id, root.name),
    )
    row = await cur.fetchone()
    assert row is not None
    album_id: str = row["album_id"]
    return album_id


async def record_subfolders(
    conn: Connection, source: str, parent_folder_id: str, folders: list[FolderRef]
) -> None:
    """The albums of the subfolders a page of `parent_folder_id` found: new ones below its
    album, known ones renamed or moved there (their descendants' paths follow)."""
    if not folders:
        return
    await conn.execute(
        "SELECT album_record_subfolders(%s, %s, %s::text[], %s::text[])",
        (source, parent_folder_id, [f.folder_id for f in folders], [f.name for f in folders]),
    )
