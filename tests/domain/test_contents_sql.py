"""Contents' SQL on a real PostgreSQL, two transactions at a time: a content gaining an image
is never dropped under it, a dropped one gains none, and a deletion never takes an object a
content uses again."""

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import psycopg
import pytest
from psycopg.rows import DictRow, dict_row

from domain.contents import repository as contents
from domain.imports import files as import_files
from domain.imports import listing
from domain.imports.files import FileOutcome
from domain.imports.stored import StoredObject
from domain.sources.records import SourceFile

Conn = psycopg.AsyncConnection[DictRow]
Connect = Callable[[], Awaitable[Conn]]
BYTES = b"the same photo, twice"
SHA256 = hashlib.sha256(BYTES).hexdigest()
MD5 = hashlib.md5(BYTES, usedforsecurity=False).hexdigest()
KEY = contents.content_key(SHA256)
# Long enough for a statement that is not blocked to have finished.
BLOCKED_SECONDS = 0.5


@pytest.fixture
async def connect(database_url: str) -> AsyncIterator[Callable[[], Awaitable[Conn]]]:
    opened: list[Conn] = []

    async def new() -> Conn:
        conn = await psycopg.AsyncConnection.connect(
            database_url, row_factory=dict_row, autocommit=True
        )
        opened.append(conn)
        return conn

    yield new
    for conn in opened:
        await conn.close()


async def new_import(conn: Conn) -> str:
    """A running import of a folder of its own (one live import per folder)."""
    folder = uuid.uuid4().hex
    cur = await conn.execute(
        """INSERT INTO imports (source, source_url, folder_id, locator, status)
           VALUES ('google_drive', 'https://drive.google.com/drive/folders/' || %(f)s, %(f)s,
                   jsonb_build_object('folder_id', %(f)s::text), 'running')
           RETURNING id::text""",
        {"f": folder},
    )
    row = await cur.fetchone()
    assert row is not None
    return str(row["id"])


def stored(reused: bool = False) -> StoredObject:
    return StoredObject(
        key=KEY,
        storage_path=f"s3://images/{KEY}",
        size=len(BYTES),
        content_type="image/jpeg",
        checksums={"md5": MD5, "sha256": SHA256},
        reused=reused,
    )


async def one_image_of_the_content(conn: Conn, file_id: str) -> str:
    """A content with one image, as a transfer leaves it; the image's import."""
    import_id = await new_import(conn)
    file = SourceFile(file_id, "a.jpg", "image/jpeg", size=len(BYTES), checksums={"md5": MD5})
    async with conn.transaction():
        await listing.add_files(conn, import_id, "google_drive", [file], [None], "root")
        assert await contents.record_contents(conn, [stored()]) == []
        await import_files.settle_files(
            conn, import_id, "google_drive", [FileOutcome(file_id, 1, stored=stored())]
        )
        await contents.point_images(conn, import_id, "google_drive", [(file_id, stored())])
    return import_id


async def a_listed_copy(conn: Conn, file_id: str) -> str:
    """A new import that lists a copy of the content, with its SHA-256: pending."""
    import_id = await new_import(conn)
    copy = SourceFile(
        file_id, "copy.jpg", "image/jpeg", size=len(BYTES), checksums={"sha256": SHA256}
    )
    await listing.add_files(conn, import_id, "google_drive", [copy], [None], "root")
    return import_id


async def drop_image(conn: Conn, file_id: str) -> None:
    await conn.execute("DELETE FROM images WHERE source_file_id = %s", (file_id,))


async def test_a_content_gaining_an_image_meanwhile_is_not_dropped(connect: Connect) -> None:
    linker, collector = await connect(), await connect()
    await one_image_of_the_content(linker, "original-1")
    import_id = await a_listed_copy(linker, "copy-1")
    await drop_image(linker, "original-1")

    async with linker.transaction():
        known = await contents.settle_known_contents(linker, import_id, "google_drive", ["copy-1"])
        assert known.file_ids == {"copy-1"}

        async def collect() -> list[str]:
            async with collector.transaction():
                return await contents.collect_unreferenced(collector, [SHA256])

        collecting = asyncio.create_task(collect())
        await asyncio.sleep(BLOCKED_SECONDS)
        assert not collecting.done(), "the collection did not wait for the image's transaction"
    assert await collecting == []
    cur = await linker.execute("SELECT count(*) AS n FROM contents WHERE sha256 = %s", (SHA256,))
    assert await cur.fetchone() == {"n": 1}
    await drop_image(linker, "copy-1")
    async with linker.transaction():
        assert await contents.collect_unreferenced(linker, [SHA256]) == [KEY]


async def test_a_content_being_dropped_gains_no_image_its_file_is_transferred(
    connect: Connect,
) -> None:
    linker, collector = await connect(), await connect()
    await one_image_of_the_content(linker, "original-2")
    import_id = await a_listed_copy(linker, "copy-2")
    await drop_image(linker, "original-2")

    async with collector.transaction():
        assert await contents.collect_unreferenced(collector, [SHA256]) == [KEY]

        async def link() -> contents.KnownSettled:
            async with linker.transaction():
                return await contents.settle_known_contents(
                    linker, import_id, "google_drive", ["copy-2"]
                )

        linking = asyncio.create_task(link())
        await asyncio.sleep(BLOCKED_SECONDS)
        assert not linking.done(), "the listing did not wait for the content's deletion"
    known = await linking
    # Not matched: it is transferred, and stores the bytes anew.
    assert known.file_ids == frozenset()
    cur = await linker.execute(
        "SELECT state FROM import_files WHERE import_id = %s AND source_file_id = 'copy-2'",
        (import_id,),
    )
    assert await cur.fetchone() == {"state": "pending"}


async def test_a_deletion_is_struck_off_when_a_content_uses_its_key_again(
    connect: Connect,
) -> None:
    conn = await connect()
    await one_image_of_the_content(conn, "original-3")
    async with conn.transaction():
        await contents.request_object_deletions(conn, [KEY])
    async with conn.transaction():
        assert KEY not in await contents.take_object_deletions(conn, 100)
    cur = await conn.execute("SELECT 1 FROM object_deletions WHERE storage_key = %s", (KEY,))
    assert await cur.fetchone() is None
    await conn.execute("DELETE FROM images WHERE content_id = %s", (SHA256,))
    await conn.execute("DELETE FROM contents WHERE sha256 = %s", (SHA256,))


async def test_an_upload_whose_object_was_deleted_meanwhile_is_told_to_check_it(
    connect: Connect,
) -> None:
    conn = await connect()
    assert await contents.is_stored(conn, SHA256, len(BYTES)) is False
    # A content dropped meanwhile: a pass deletes its object.
    async with conn.transaction():
        await contents.request_object_deletions(conn, [KEY])
    async with conn.transaction():
        taken = await contents.take_object_deletions(conn, 100)
        assert KEY in taken
        await contents.mark_objects_deleted(conn, taken)
    # The upload records its content: it is told to check that its object is there; so is
    # every other recording within the day (its upload may have begun before).
    async with conn.transaction():
        assert await contents.record_contents(conn, [stored()]) == [KEY]
    await conn.execute("DELETE FROM contents WHERE sha256 = %s", (SHA256,))
    async with conn.transaction():
        assert await contents.record_contents(conn, [stored()]) == [KEY]
    # A day later the deletion is forgotten.
    await conn.execute("DELETE FROM contents WHERE sha256 = %s", (SHA256,))
    await conn.execute(
        "UPDATE object_deletions SET deleted_at = now() - interval '25 hours'"
        " WHERE storage_key = %s",
        (KEY,),
    )
    async with conn.transaction():
        assert await contents.record_contents(conn, [stored()]) == []


async def test_the_sweep_notes_only_keys_no_content_uses_and_no_deletion_awaits(
    connect: Connect,
) -> None:
    conn = await connect()
    orphan = contents.content_key("0" * 64)
    due = contents.content_key("1" * 64)
    await contents.request_object_deletions(conn, [due])
    keys = [KEY, contents.thumbnail_key(KEY), orphan, contents.thumbnail_key(orphan), due]
    # KEY's content is recorded (the test above).
    assert sorted(await contents.unused_keys(conn, keys)) == sorted(
        [orphan, contents.thumbnail_key(orphan)]
    )
