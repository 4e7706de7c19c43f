"""The import ledger's SQL on a real PostgreSQL: what a listed file's checksums decide."""

from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb

from domain.imports import listing
from domain.sources.records import SourceFile

MD5 = "5d41402abc4b2a76b9719d911017c592"
BLOCKS = "8620913d33852befe09f16fff8fd75f77a83160d29f76f07e0276e9690903035"


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[psycopg.AsyncConnection[DictRow]]:
    async with await psycopg.AsyncConnection.connect(
        database_url, row_factory=dict_row, autocommit=True
    ) as connection:
        yield connection


async def new_import(
    conn: psycopg.AsyncConnection[DictRow], status: str = "running", folder: str = "a"
) -> str:
    cur = await conn.execute(
        """INSERT INTO imports (source, source_url, folder_id, locator, status)
           VALUES ('dropbox', 'https://www.dropbox.com/scl/fo/a/b', %s,
                   '{"folder_id": "a", "url": "https://www.dropbox.com/scl/fo/a/b"}', %s)
           RETURNING id::text""",
        (folder, status),
    )
    row = await cur.fetchone()
    assert row is not None
    return str(row["id"])


async def test_a_file_is_unchanged_when_its_size_and_a_checksum_both_sides_have_match(
    conn: psycopg.AsyncConnection[DictRow],
) -> None:
    earlier = await new_import(conn, status="completed")
    # What the catalogue holds of each file: MD5 always, and Dropbox's hash it was checked by.
    for file_id in ["by-block-hash", "by-md5", "other-hash", "unknown-kind", "none", "resized"]:
        await conn.execute(
            """INSERT INTO images (source, source_file_id, import_id, name, mime_type, size,
                                   checksums, storage_key, storage_path)
               VALUES ('dropbox', %s, %s, 'a.jpg', 'image/jpeg', 10, %s, %s, %s)""",
            (
                file_id,
                earlier,
                Jsonb({"md5": MD5, "dropbox_content_hash": BLOCKS}),
                file_id,
                f"s3://images/{file_id}",
            ),
        )
    listed = {
        "by-block-hash": {"dropbox_content_hash": BLOCKS.upper()},
        "by-md5": {"md5": MD5},
        "other-hash": {"dropbox_content_hash": "0" * 64, "md5": "1" * 32},
        "unknown-kind": {"sha1": "2" * 40},
        "none": {},
        "resized": {"dropbox_content_hash": BLOCKS},
    }
    files = [
        SourceFile(
            file_id, "a.jpg", "image/jpeg", size=11 if file_id == "resized" else 10, checksums=sums
        )
        for file_id, sums in listed.items()
    ]
    later = await new_import(conn)

    added = await listing.add_files(
        conn, later, "dropbox", files, [None] * len(files), folder_id="root"
    )

    assert added.unchanged == 2
    assert sorted(file_id for file_id, _ in added.to_transfer) == [
        "none",
        "other-hash",
        "resized",
        "unknown-kind",
    ]
    cur = await conn.execute(
        "SELECT source_file_id, checksums FROM import_files WHERE import_id = %s", (later,)
    )
    recorded = {row["source_file_id"]: row["checksums"] for row in await cur.fetchall()}
    assert recorded["by-block-hash"] == {"dropbox_content_hash": BLOCKS}  # stored lowercase
    assert recorded["unknown-kind"] == {"sha1": "2" * 40}


async def test_a_file_no_checksum_vouches_for_is_unchanged_by_its_size_and_version(
    conn: psycopg.AsyncConnection[DictRow],
) -> None:
    earlier = await new_import(conn, status="completed", folder="v")
    # Stored with the ETag its source declared when it was listed (none for "v-unversioned").
    for file_id in ["v-same", "v-new-etag", "v-resized", "v-not-listed", "v-unversioned"]:
        await conn.execute(
            """INSERT INTO images (source, source_file_id, import_id, name, mime_type, size,
                                   checksums, storage_key, storage_path, source_version)
               VALUES ('dropbox', %s, %s, 'a.jpg', 'image/jpeg', 10, %s, %s, %s, %s)""",
            (
                file_id,
                earlier,
                Jsonb({"md5": MD5}),
                file_id,
                f"s3://images/{file_id}",
                None if file_id == "v-unversioned" else '"etag-1"',
            ),
        )
    listed = {
        "v-same": (10, '"etag-1"'),
        "v-new-etag": (10, '"etag-2"'),
        "v-resized": (11, '"etag-1"'),
        "v-not-listed": (10, None),
        "v-unversioned": (10, '"etag-1"'),
    }
    files = [
        SourceFile(file_id, "a.jpg", "image/jpeg", size=size, version=version)
        for file_id, (size, version) in listed.items()
    ]
    later = await new_import(conn, folder="v")

    added = await listing.add_files(
        conn, later, "dropbox", files, [None] * len(files), folder_id="v"
    )

    assert added.unchanged == 1
    assert sorted(file_id for file_id, _ in added.to_transfer) == [
        "v-new-etag",
        "v-not-listed",
        "v-resized",
        "v-unversioned",
    ]
    cur = await conn.execute(
        "SELECT source_file_id, source_version FROM import_files WHERE import_id = %s", (later,)
    )
    recorded = {row["source_file_id"]: row["source_version"] for row in await cur.fetchall()}
    assert recorded["v-new-etag"] == '"etag-2"'  # as declared, kept for the image it becomes
    assert recorded["v-not-listed"] is None
