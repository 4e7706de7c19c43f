"""SQL of the album backfill: which import's images still have no album (stored before albums
existed), the checkpoint of the listing that finds their folders again (the tables of
migrations/versions/0035_album_backfill.sql), and the placing of the images it finds
(migrations/schema/albums.sql: `album_place_listed_images`). The albums themselves are made by
the listing's own functions (`domain.albums.repository`), so a backfilled album is the one an
import would have made.

Functions run inside the caller's transaction and never commit: the job that calls them owns it.
"""

from typing import Any

from domain.db import Connection
from domain.sources.records import FolderRef


async def next_import_to_backfill(conn: Connection) -> dict[str, Any] | None:
    """The oldest import that has ended and still has images without an album (not removed by
    a sync), and that no backfill listed yet, with its link (what `worker.services.link_of`
    reads). One running now places its own images."""
    cur = await conn.execute(
        """
        SELECT i.id::text AS import_id, i.source, i.recursive, i.locator, i.link_password
        FROM imports i
        WHERE i.status NOT IN ('queued', 'running')
          AND NOT EXISTS (SELECT FROM album_backfills b WHERE b.import_id = i.id)
          AND EXISTS (SELECT FROM images m
                      WHERE m.import_id = i.id AND m.album_id IS NULL AND m.removed_at IS NULL)
        ORDER BY i.created_at, i.id
        LIMIT 1
        """
    )
    return await cur.fetchone()


async def start_backfill(conn: Connection, import_id: str, root: FolderRef) -> bool:
    """Record that the backfill lists this import, from its root folder; False when another
    run started it first."""
    cur = await conn.execute(
        "INSERT INTO album_backfills (import_id) VALUES (%s) ON CONFLICT DO NOTHING",
        (import_id,),
    )
    if cur.rowcount != 1:
        return False
    await add_folders(conn, import_id, [root])
    return True


async def fail_backfill(conn: Connection, import_id: str, error: str) -> None:
    """The import's folder cannot be listed any more: recorded as finished, with why."""
    await conn.execute(
        """
        INSERT INTO album_backfills (import_id, finished_at, error) VALUES (%s, now(), %s)
        ON CONFLICT (import_id) DO UPDATE SET finished_at = now(), error = EXCLUDED.error
        """,
        (import_id, error),
    )


async def next_folder_to_list(conn: Connection) -> dict[str, Any] | None:
    """A folder of a started backfill that still has pages to list, with its checkpoint and
    its import's link."""
    cur = await conn.execute(
        """
        SELECT f.import_id::text AS import_id, f.folder_id, f.resource_key, f.next_page_token,
               f.pages_listed, i.source, i.recursive, i.locator, i.link_password
        FROM album_backfill_folders f JOIN imports i ON i.id = f.import_id
        WHERE NOT f.done
        ORDER BY f.import_id, f.folder_id
        LIMIT 1
        """
    )
    return await cur.fetchone()


async def advance_folder(
    conn: Connection,
    import_id: str,
    folder_id: str,
    *,
    pages_seen: int,
    next_page_token: str | None,
    error: str | None = None,
) -> bool:
    """Move the folder's checkpoint past one page (or, with `error`, past the whole folder),
    only if nobody else did since it was read: a page is recorded once even when two runs
    list it."""
    cur = await conn.execute(
        """
        UPDATE album_backfill_folders
        SET next_page_token = %s, pages_listed = pages_listed + 1, done = %s, error = %s
        WHERE import_id = %s AND folder_id = %s AND pages_listed = %s AND NOT done
        """,
        (
            next_page_token,
            next_page_token is None or error is not None,
            error,
            import_id,
            folder_id,
            pages_seen,
        ),
    )
    return cur.rowcount == 1


async def add_folders(conn: Connection, import_id: str, folders: list[FolderRef]) -> None:
    """Subfolders to list; one reached before in this backfill (a second path, a loop) is
    not listed again."""
    if not folders:
        return
    await conn.execute(
        """
        INSERT INTO album_backfill_folders (import_id, folder_id, resource_key)
        SELECT %s, f.id, f.resource_key
        FROM unnest(%s::text[], %s::text[]) AS f(id, resource_key)
        ON CONFLICT DO NOTHING
        """,
        (import_id, [f.folder_id for f in folders], [f.resource_key for f in folders]),
    )


async def place_listed_images(
    conn: Connection, import_id: str, source: str, folder_id: str, file_ids: list[str]
) -> int:
    """The images of the files a page of `folder_id` listed that have no album take its album;
    how many did, also counted on the import's backfill."""
    if not file_ids:
        return 0
    cur = await conn.execute(
        "SELECT album_place_listed_images(%s, %s, %s::text[]) AS placed",
        (source, folder_id, file_ids),
    )
    row = await cur.fetchone()
    placed: int = row["placed"] if row else 0
    if placed:
        await conn.execute(
            "UPDATE album_backfills SET images_placed = images_placed + %s WHERE import_id = %s",
            (placed, import_id),
        )
    return placed


async def finish_if_listed(conn: Connection, import_id: str) -> bool:
    """The backfill of the import is finished once none of its folders has pages left; True
    when this call finished it."""
    cur = await conn.execute(
        """
        UPDATE album_backfills b SET finished_at = now()
        WHERE b.import_id = %s AND b.finished_at IS NULL
          AND NOT EXISTS (SELECT FROM album_backfill_folders f
                          WHERE f.import_id = b.import_id AND NOT f.done)
        """,
        (import_id,),
    )
    return cur.rowcount == 1
