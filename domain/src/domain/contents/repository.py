"""SQL on contents: the bytes of images stored once each, under a key derived from their
SHA-256, whatever file, folder or source holds them; an image row per source file points at
its content (`images.content_id`), and an object goes only when no image points at it.

How an object is never lost nor left behind, with uploads, re-imports, syncs' deletions and
the backfill running at once on several workers:

- An object leaves the store one way: a row of `object_deletions`, due at some time, which
  `take_object_deletions` takes when due and deletes, holding an advisory lock on the key,
  unless a content uses the key again (then the row is struck off).
- A content's row is written in the transaction that points its first image at it, after its
  object is in the store; so a committed row always has its object and at least one image.
- Pointing an image at a content takes a KEY SHARE lock on the content's row (the foreign
  key); `collect_unreferenced` locks the rows it may drop FOR UPDATE and decides in a later
  statement, which sees every image committed meanwhile. So a content gaining an image is
  never dropped, and one dropped cannot gain one (the import's statement fails, and its job
  tries again: the content is stored anew). Dropping a content notes its key, due at once.
- An upload in flight while its content's object was deleted (its PUT before the deletion)
  records its content under the key's lock and, a deletion of the key being on record from
  the last day, checks that the object is there (`record_contents` returns it) before
  committing.
- A worker that dies between its upload and its commit leaves an object no content uses:
  the sweep (worker/contents/sweep.py) finds those a day old and notes them (`unused_keys`).

Functions run inside the caller's transaction and never commit.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from domain.db import Connection
from domain.imports import files as import_files
from domain.imports.files import FileOutcome
from domain.imports.stored import StoredObject
from domain.sources.records import SHA256, SourceFile

# Checksums a source may list that name bytes as surely as our own SHA-256: a listed file
# with one equal to a stored content's (and the same size) is that content, without a
# download. MD5 and SHA-1 are not among them: their collisions can be made on purpose.
STRONG_LISTED_CHECKSUMS = (SHA256, "dropbox_content_hash")

# An arbitrary number, the advisory locks' namespace for object keys.
_KEY_LOCKS = 25


def content_key(sha256: str) -> str:
    """Where a content's bytes are stored: the same for every copy, whoever stores it."""
    return f"content/{sha256}"


def source_file_key(source: str, source_file_id: str) -> str:
    """Where images were stored before contents, one object per source file (the backfill
    moves them), and where a large file is staged while its SHA-256 is not known yet.
    File names never appear in keys: they stay in the database, whatever they contain."""
    return f"{source}/{quote(source_file_id, safe='-_.')}"


def thumbnail_key(storage_key: str) -> str:
    """The WebP thumbnail of the bytes under `storage_key`: one per content too."""
    return f"thumbnails/{storage_key}.webp"


async def is_stored(conn: Connection, sha256: str, size: int) -> bool:
    """Whether the store holds a content with these bytes (their upload is then skipped)."""
    cur = await conn.execute(
        "SELECT 1 FROM contents WHERE sha256 = %s AND size = %s", (sha256, size)
    )
    return await cur.fetchone() is not None


async def unused_keys(conn: Connection, keys: Sequence[str]) -> list[str]:
    """Those of `keys` (objects found in the store) that no content uses and no deletion
    awaits: left by a worker that died between its upload and its commit."""
    cur = await conn.execute(
        """
        SELECT k.key FROM unnest(%s::text[], %s::text[]) AS k(key, object)
        WHERE NOT EXISTS (SELECT 1 FROM contents c WHERE c.storage_key = k.object)
          AND NOT EXISTS (SELECT 1 FROM object_deletions d
                          WHERE d.storage_key = k.key AND d.due_at IS NOT NULL)
        """,
        (list(keys), [_object_of(key) for key in keys]),
    )
    return [row["key"] for row in await cur.fetchall()]


async def record_contents(conn: Connection, stored: Sequence[StoredObject]) -> list[str]:
    """Record the contents of objects just stored (a content known already is left as it is).
    Returns the keys of the new ones whose object was deleted within the last day: the
    caller checks each is in the store before committing, since the deletion may have come
    after its upload (it holds the keys' locks until then). No upload takes a day."""
    if not stored:
        return []
    await _lock_keys(conn, [s.key for s in stored])
    by_sha = {s.sha256: s for s in stored}
    cur = await conn.execute(
        """
        WITH inserted AS (
            INSERT INTO contents (sha256, size, mime_type, checksums, storage_key, storage_path)
            SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::jsonb[], %s::text[],
                                 %s::text[])
            ON CONFLICT (sha256) DO NOTHING
            RETURNING storage_key
        )
        SELECT i.storage_key FROM inserted i JOIN object_deletions d USING (storage_key)
        WHERE d.deleted_at > now() - interval '1 day'
        """,
        (
            list(by_sha),
            [s.size for s in by_sha.values()],
            [s.content_type for s in by_sha.values()],
            [json.dumps(s.checksums) for s in by_sha.values()],
            [s.key for s in by_sha.values()],
            [s.storage_path for s in by_sha.values()],
        ),
    )
    return [row["storage_key"] for row in await cur.fetchall()]


@dataclass(frozen=True)
class Pointed:
    """What pointing images at their contents did: the images whose derivatives were copied
    from another image of the same content (they need no job), the contents the images
    pointed at before, when they changed (which may have lost their last image), and the
    source file ids of images stored before contents that were stored anew (their old object,
    theirs alone, is to delete)."""

    derivatives_copied: frozenset[str]
    released: list[str]
    stored_before_contents: list[str] = field(default_factory=list)


async def point_images(
    conn: Connection, import_id: str, source: str, files: Sequence[tuple[str, StoredObject]]
) -> Pointed:
    """Point the images of the (source file id, stored object) pairs at their contents (a
    known image whose bytes changed; a new one points at its content since it was settled),
    give an image waiting for derivatives those of another image of the same content, and
    count the bytes the import did not store because they were stored already
    (`bytes_saved`)."""
    if not files:
        return Pointed(frozenset(), [])
    cur = await conn.execute(
        """
        WITH given AS (
            SELECT * FROM unnest(%(ids)s::text[], %(shas)s::text[]) AS g(file_id, sha256)
        ),
        pointed AS (
            UPDATE images im
            SET content_id = g.sha256,
                width = CASE WHEN sibling.id IS NULL THEN im.width ELSE sibling.width END,
                height = CASE WHEN sibling.id IS NULL THEN im.height ELSE sibling.height END,
                taken_at = CASE WHEN sibling.id IS NULL THEN im.taken_at ELSE sibling.taken_at END,
                camera_make = CASE WHEN sibling.id IS NULL THEN im.camera_make
                                   ELSE sibling.camera_make END,
                camera_model = CASE WHEN sibling.id IS NULL THEN im.camera_model
                                    ELSE sibling.camera_model END,
                animated = CASE WHEN sibling.id IS NULL THEN im.animated ELSE sibling.animated END,
                thumbnail_key = CASE WHEN sibling.id IS NULL THEN im.thumbnail_key
                                     ELSE sibling.thumbnail_key END,
                derivative_reason = CASE WHEN sibling.id IS NULL THEN im.derivative_reason
                                         ELSE sibling.derivative_reason END,
                derivative_state = CASE WHEN sibling.id IS NULL THEN im.derivative_state
                                        ELSE sibling.derivative_state END
            FROM given g
            JOIN images before ON before.source = %(source)s AND before.source_file_id = g.file_id
            -- Derivatives are made of the bytes: another image of the content has them.
            LEFT JOIN LATERAL (
                SELECT s.* FROM images s
                WHERE s.content_id = g.sha256 AND s.id <> before.id
                  AND s.derivative_state IN ('done', 'not_possible')
                  AND before.derivative_state = 'pending'
                LIMIT 1
            ) sibling ON true
            -- A new image points at its content already (import_settle_files): it is written
            -- again only to take a sibling's derivatives.
            WHERE im.id = before.id
              AND (before.content_id IS DISTINCT FROM g.sha256 OR sibling.id IS NOT NULL)
            RETURNING im.id::text AS id, g.file_id, before.content_id AS was, g.sha256 AS now,
                      sibling.id IS NOT NULL AS copied,
                      -- Not inserted by this transaction (whose rows have created_at = now()).
                      before.content_id IS NULL AND before.created_at < now() AS older
        ),
        saved AS (
            UPDATE imports SET bytes_saved = bytes_saved + %(saved)s
            WHERE id = %(import_id)s AND %(saved)s > 0
        )
        SELECT id, file_id, was, now, copied, older FROM pointed
        """,
        {
            "ids": [file_id for file_id, _ in files],
            "shas": [stored.sha256 for _, stored in files],
            "source": source,
            "import_id": import_id,
            "saved": sum(stored.size for _, stored in files if stored.reused),
        },
    )
    rows = await cur.fetchall()
    return Pointed(
        frozenset(row["id"] for row in rows if row["copied"]),
        sorted({row["was"] for row in rows if row["was"] and row["was"] != row["now"]}),
        [row["file_id"] for row in rows if row["older"]],
    )


@dataclass(frozen=True)
class KnownSettled:
    """The files of a listed page whose contents were stored already, settled as imported
    without a transfer: their ids, the import's status afterwards, and the images that still
    need derivatives (no other image of their content has them)."""

    file_ids: frozenset[str]
    import_status: str | None
    images_to_derive: list[str]


async def settle_known_contents(
    conn: Connection, import_id: str, source: str, file_ids: Sequence[str]
) -> KnownSettled:
    """The pending files among `file_ids` that the source lists with a strong checksum and
    the size of a stored content are that content: imported at once, pointed at it, nothing
    downloaded. Their contents are locked (KEY SHARE) as they are read: one being dropped
    meanwhile is not matched, and its files are transferred."""
    if not file_ids:
        return KnownSettled(frozenset(), None, [])
    cur = await conn.execute(
        """
        SELECT f.source_file_id, f.attempts, c.sha256, c.size, c.mime_type,
               f.checksums || c.checksums AS checksums, c.storage_key, c.storage_path
        FROM import_files f
        CROSS JOIN LATERAL (
            SELECT c.* FROM contents c
            WHERE c.size = f.size
              AND (c.sha256 = f.checksums ->> 'sha256'
                   OR (f.checksums ? 'dropbox_content_hash' AND c.checksums ? 'dropbox_content_hash'
                       AND c.checksums ->> 'dropbox_content_hash'
                           = f.checksums ->> 'dropbox_content_hash'))
            LIMIT 1
            FOR KEY SHARE
        ) c
        WHERE f.import_id = %s AND f.source_file_id = ANY(%s::text[]) AND f.state = 'pending'
          AND f.checksums ?| %s::text[]
        ORDER BY f.source_file_id
        """,
        (import_id, list(file_ids), list(STRONG_LISTED_CHECKSUMS)),
    )
    rows = await cur.fetchall()
    if not rows:
        return KnownSettled(frozenset(), None, [])
    outcomes = [
        FileOutcome(row["source_file_id"], row["attempts"], stored=_known(row)) for row in rows
    ]
    settled = await import_files.settle_files(conn, import_id, source, outcomes)
    pointed = await point_images(
        conn, import_id, source, [(o.file_id, o.stored) for o in outcomes if o.stored]
    )
    await release_stored_before_contents(conn, source, pointed)
    return KnownSettled(
        frozenset(o.file_id for o in outcomes),
        settled.import_status,
        [i for i in settled.images_to_derive if i not in pointed.derivatives_copied],
    )


async def release_stored_before_contents(conn: Connection, source: str, pointed: Pointed) -> None:
    """The objects of images stored before contents and now pointed at one were theirs alone:
    noted for deletion (with their thumbnails), in the transaction that repointed them."""
    keys = [source_file_key(source, file_id) for file_id in pointed.stored_before_contents]
    await request_object_deletions(conn, [*keys, *map(thumbnail_key, keys)])


def _known(row: dict[str, Any]) -> StoredObject:
    return StoredObject(
        key=row["storage_key"],
        storage_path=row["storage_path"],
        size=row["size"],
        content_type=row["mime_type"],
        checksums=row["checksums"],
        reused=True,
    )


async def follow_renames(
    conn: Connection, import_id: str, source: str, files: Sequence[SourceFile]
) -> int:
    """Images whose source file kept its id but not its name take the new one in place, the
    old one noted in their history (`renamed_from`); their bytes stay where they are. How
    many were renamed."""
    if not files:
        return 0
    cur = await conn.execute(
        """
        UPDATE images im
        SET name = t.name, updated_at = now(),
            history = im.history || jsonb_build_array(jsonb_build_object(
                'renamed_from', im.name, 'renamed_to', t.name, 'at', now(),
                'import_id', %s::text))
        FROM unnest(%s::text[], %s::text[]) AS t(id, name)
        WHERE im.source = %s AND im.source_file_id = t.id AND im.name <> t.name
        """,
        (import_id, [f.file_id for f in files], [f.name for f in files], source),
    )
    return cur.rowcount


async def collect_unreferenced(conn: Connection, sha256s: Sequence[str]) -> list[str]:
    """Drop those of these contents no image points at any more, and request the deletion of
    their objects and thumbnails; the keys requested. Their rows are locked first, and the
    images are looked for in a statement of its own, after the locks are held."""
    if not sha256s:
        return []
    wanted = sorted(set(sha256s))
    await conn.execute(
        "SELECT 1 FROM contents WHERE sha256 = ANY(%s) ORDER BY sha256 FOR UPDATE", (wanted,)
    )
    cur = await conn.execute(
        """
        DELETE FROM contents c
        WHERE c.sha256 = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM images im WHERE im.content_id = c.sha256)
        RETURNING storage_key
        """,
        (wanted,),
    )
    keys = [row["storage_key"] for row in await cur.fetchall()]
    await request_object_deletions(conn, [k for key in keys for k in (key, thumbnail_key(key))])
    return keys


async def request_object_deletions(conn: Connection, keys: Sequence[str]) -> None:
    """Note objects to delete (`take_object_deletions` deletes them), with the change that
    stopped using them."""
    if keys:
        await conn.execute(
            """
            INSERT INTO object_deletions (storage_key, due_at)
            SELECT unnest(%s::text[]), now()
            ON CONFLICT (storage_key) DO UPDATE SET due_at = now()
            """,
            (list(keys),),
        )


async def take_object_deletions(conn: Connection, limit: int) -> list[str]:
    """Up to `limit` objects due for deletion, locked (and their keys' advisory locks held)
    until the caller commits: it deletes them from the store, then `mark_objects_deleted`.
    A key a content has again (stored anew meanwhile) is struck off instead: its object
    is in use."""
    cur = await conn.execute(
        """
        SELECT storage_key FROM object_deletions WHERE due_at <= now()
        ORDER BY due_at, storage_key LIMIT %s FOR UPDATE SKIP LOCKED
        """,
        (limit,),
    )
    keys = [row["storage_key"] for row in await cur.fetchall()]
    if not keys:
        return []
    await _lock_keys(conn, [_object_of(key) for key in keys])
    cur = await conn.execute(
        """
        WITH used AS (
            SELECT k.key FROM unnest(%s::text[], %s::text[]) AS k(key, object)
            WHERE EXISTS (SELECT 1 FROM contents c WHERE c.storage_key = k.object)
        ),
        struck AS (
            UPDATE object_deletions SET due_at = NULL
            WHERE storage_key IN (SELECT key FROM used) AND deleted_at IS NOT NULL
        ),
        dropped AS (
            DELETE FROM object_deletions
            WHERE storage_key IN (SELECT key FROM used) AND deleted_at IS NULL
        )
        SELECT key FROM used
        """,
        (keys, [_object_of(key) for key in keys]),
    )
    used = {row["key"] for row in await cur.fetchall()}
    return [key for key in keys if key not in used]


async def mark_objects_deleted(conn: Connection, keys: Sequence[str]) -> None:
    """The objects are deleted. The deletion stays on record a day: an upload of the same
    bytes that began before it and records its content after finds it (no upload takes that
    long: the source's and the store's timeouts end it well before)."""
    if keys:
        await conn.execute(
            "UPDATE object_deletions SET deleted_at = now(), due_at = NULL"
            " WHERE storage_key = ANY(%s)",
            (list(keys),),
        )
    await conn.execute(
        "DELETE FROM object_deletions"
        " WHERE due_at IS NULL AND deleted_at < now() - interval '1 day'"
    )


def _object_of(key: str) -> str:
    """The object a key belongs to: a thumbnail's original, or the key itself."""
    if key.startswith("thumbnails/") and key.endswith(".webp"):
        return key.removeprefix("thumbnails/").removesuffix(".webp")
    return key


async def _lock_keys(conn: Connection, keys: Sequence[str]) -> None:
    """Transaction-level advisory locks on object keys, in one order everywhere (no
    deadlock between two transactions taking several)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(k)) FROM unnest(%s::text[]) AS k ORDER BY k",
        (_KEY_LOCKS, sorted(set(keys))),
    )


@dataclass(frozen=True)
class StorageTotals:
    """The catalogue's images, the contents they hold, and the bytes not stored twice."""

    images: int
    contents: int
    image_bytes: int
    stored_bytes: int

    @property
    def bytes_saved(self) -> int:
        return self.image_bytes - self.stored_bytes


async def storage_totals(conn: Connection) -> StorageTotals:
    """Over the images that point at a content (those the backfill has not hashed yet are
    left out of both sides)."""
    cur = await conn.execute(
        """
        SELECT (SELECT count(*) FROM images WHERE content_id IS NOT NULL) AS images,
               (SELECT count(*) FROM contents) AS contents,
               (SELECT coalesce(sum(size), 0) FROM images WHERE content_id IS NOT NULL)::bigint
                   AS image_bytes,
               (SELECT coalesce(sum(size), 0) FROM contents)::bigint AS stored_bytes
        """
    )
    row = await cur.fetchone()
    assert row is not None
    return StorageTotals(**row)


async def images_without_content(
    conn: Connection, *, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """Images stored before contents (the backfill's work), in id order after `after`."""
    cur = await conn.execute(
        """
        SELECT id::text AS id, storage_key, thumbnail_key, size, mime_type, checksums
        FROM images
        WHERE content_id IS NULL AND (%(after)s::uuid IS NULL OR id > %(after)s::uuid)
        ORDER BY id LIMIT %(limit)s
        """,
        {"after": after, "limit": limit},
    )
    return await cur.fetchall()


async def move_image_to_content(
    conn: Connection, image: dict[str, Any], stored: StoredObject, thumbnail: str | None
) -> bool:
    """Point an image stored before contents at its content (and its thumbnail at the
    content's), and request the deletion of its old objects; False when the image changed
    meanwhile (a re-import stored it anew, a sync deleted it): nothing is done then."""
    cur = await conn.execute(
        """
        UPDATE images
        SET content_id = %s, storage_key = %s, storage_path = %s, thumbnail_key = %s,
            checksums = checksums || %s::jsonb
        WHERE id = %s AND content_id IS NULL AND storage_key = %s
        """,
        (
            stored.sha256,
            stored.key,
            stored.storage_path,
            thumbnail,
            json.dumps(stored.checksums),
            image["id"],
            image["storage_key"],
        ),
    )
    if cur.rowcount != 1:
        return False
    await request_object_deletions(
        conn, [key for key in (image["storage_key"], image["thumbnail_key"]) if key]
    )
    return True
