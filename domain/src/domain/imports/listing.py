"""SQL on an import's listing: which folders wait to be listed (and from which page on), and
the files each page found (migrations/schema/imports.sql's `import_add_files`,
`import_add_folders`, `import_finish_folder`).

Functions run inside the caller's transaction and never commit: the job that calls them owns it.
"""

import json
from dataclasses import dataclass
from typing import Any

from domain.db import Connection
from domain.sources.records import FolderRef, SourceFile, normalized_checksums

# An ETag or a rev is a few dozen characters; a longer "version" is a server's junk, not kept
# (the file is then found unchanged by its checksums only).
MAX_VERSION_LENGTH = 256


async def get_folder_checkpoint(
    conn: Connection, import_id: str, folder_id: str
) -> dict[str, Any] | None:
    cur = await conn.execute(
        """
        SELECT f.folder_id, f.resource_key, f.next_page_token, f.pages_listed, f.done,
               i.status AS import_status, i.source, i.recursive, i.locator, i.link_password
        FROM import_folders f JOIN imports i ON i.id = f.import_id
        WHERE f.import_id = %s AND f.folder_id = %s
        """,
        (import_id, folder_id),
    )
    return await cur.fetchone()


async def advance_folder_checkpoint(
    conn: Connection,
    import_id: str,
    folder_id: str,
    *,
    pages_seen: int,
    next_page_token: str | None,
) -> bool:
    """Move the checkpoint past one page, only if nobody else did since we read it: a page is
    committed exactly once even when its job runs twice."""
    cur = await conn.execute(
        """
        UPDATE import_folders
        SET next_page_token = %s, pages_listed = pages_listed + 1, done = %s
        WHERE import_id = %s AND folder_id = %s AND pages_listed = %s AND NOT done
        """,
        (next_page_token, next_page_token is None, import_id, folder_id, pages_seen),
    )
    return cur.rowcount == 1


@dataclass(frozen=True)
class AddedFiles:
    """What a page added: the new files to transfer (id and announced size), and the import's
    totals after it (both 0 for a page without files, which moves nothing)."""

    to_transfer: list[tuple[str, int | None]]
    discovered: int
    bytes_discovered: int
    # The page's new files settled at once: how many were unchanged, and why each skipped one was.
    unchanged: int = 0
    skip_reasons: tuple[str, ...] = ()


async def add_files(
    conn: Connection,
    import_id: str,
    source: str,
    files: list[SourceFile],
    skip_reasons: list[str | None],
    folder_id: str,
) -> AddedFiles:
    """Record newly discovered files, found in `folder_id` (the images stored from them belong
    to its album); a file seen before in this import is ignored. Files with a skip reason are
    settled as skipped, and files already stored with the same size and the same checksum, or
    the same version the source declared for it, as unchanged, at once. The import's
    `discovered` and `bytes_discovered` (the known sizes of the files to transfer) move in the
    same statement that locks its row, so the totals returned include every page committed
    before this one."""
    if not files:
        return AddedFiles(to_transfer=[], discovered=0, bytes_discovered=0)
    # One statement: the files, the catalogue's confirmed images and the import's counters.
    cur = await conn.execute(
        """
        SELECT new_ids, new_states, new_sizes, new_reasons, discovered, bytes_discovered
        FROM import_add_files(%s, %s, %s::text[], %s::text[], %s::text[], %s::bigint[],
                              %s::jsonb[], %s::text[], %s::text[], %s::text[], %s)
        """,
        (
            import_id,
            source,
            [f.file_id for f in files],
            [f.name for f in files],
            [f.mime_type for f in files],
            [f.size for f in files],
            [json.dumps(normalized_checksums(f.checksums)) for f in files],
            [f.resource_key for f in files],
            skip_reasons,
            [_kept_version(f.version) for f in files],
            folder_id,
        ),
    )
    row = await cur.fetchone()
    assert row is not None, f"no import {import_id}"
    to_transfer: list[tuple[str, int | None]] = []
    unchanged = 0
    skipped: list[str] = []
    for file_id, state, size, reason in zip(
        row["new_ids"], row["new_states"], row["new_sizes"], row["new_reasons"], strict=True
    ):
        if state == "pending":
            to_transfer.append((file_id, size))
        elif state == "unchanged":
            unchanged += 1
        else:
            skipped.append(reason or "")
    return AddedFiles(
        to_transfer,
        row["discovered"],
        row["bytes_discovered"],
        unchanged=unchanged,
        skip_reasons=tuple(skipped),
    )


def _kept_version(version: str | None) -> str | None:
    return version if version and len(version) <= MAX_VERSION_LENGTH else None


async def add_folders(conn: Connection, import_id: str, folders: list[FolderRef]) -> list[str]:
    """Record subfolders to list; a folder already reached in this import (a second path to it,
    or a loop) is not listed again. Returns the ids of new folders."""
    if not folders:
        return []
    cur = await conn.execute(
        "SELECT import_add_folders AS folder_id FROM import_add_folders(%s, %s, %s)",
        (import_id, [f.folder_id for f in folders], [f.resource_key for f in folders]),
    )
    return [row["folder_id"] for row in await cur.fetchall()]


async def finish_folder(conn: Connection, import_id: str) -> str | None:
    """A folder's last page is listed: one pending listing fewer and, when the import waited
    for nothing else, its completion. Returns the import's status afterwards."""
    cur = await conn.execute("SELECT import_finish_folder(%s) AS status", (import_id,))
    row = await cur.fetchone()
    return row["status"] if row else None
