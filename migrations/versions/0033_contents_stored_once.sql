-- Content stored once (issue 25): the bytes of every image live in one object per content,
-- keyed by their SHA-256 (with their size), and each image row — one per source file — points
-- at its content. A second copy of the same bytes, from anywhere, adds an image row and no
-- object; an object goes only when no image points at its content any more.
-- depends: 0032_ready_job_indexes

-- One row per distinct content. `storage_key` is where its bytes are (`content/<sha256>` for
-- everything stored from now on; the backfill moves older objects there). `checksums` holds
-- every checksum known of the bytes (MD5, SHA-256, and each one a source declared and that was
-- checked), which listings are matched against to skip a download altogether.
CREATE TABLE contents (
    sha256       text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size         bigint NOT NULL CHECK (size >= 0),
    mime_type    text NOT NULL,
    checksums    jsonb NOT NULL,
    storage_key  text NOT NULL UNIQUE,
    storage_path text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
-- Dropbox lists its own SHA-256-based hash of every file: a listed file with a known one is
-- matched without a download.
CREATE INDEX contents_dropbox_hash_idx ON contents ((checksums ->> 'dropbox_content_hash'))
    WHERE checksums ? 'dropbox_content_hash';

-- NULL until the backfill (python -m worker.contents.backfill) hashes an image stored before
-- contents existed. The foreign key matters beyond integrity: inserting or updating an image
-- that points at a content takes a KEY SHARE lock on its row, which the collection of
-- unreferenced contents (FOR UPDATE) waits for, so a content gaining an image is never deleted
-- under it.
ALTER TABLE images
    ADD COLUMN content_id text REFERENCES contents (sha256),
    -- What happened to the image's source file that the catalogue followed: renames and moves
    -- ({"renamed_from": ..., "renamed_to": ..., "at": ..., "import_id": ...}; a move:
    -- {"moved_from": ..., "moved_to": ...}, album paths), oldest first.
    ADD COLUMN history jsonb NOT NULL DEFAULT '[]';
-- The images of a content, first stored first: duplicates of an image, and "is anyone still
-- pointing at it".
CREATE INDEX images_content_idx ON images (content_id, created_at, id);
-- The backfill's work list.
CREATE INDEX images_without_content_idx ON images (id) WHERE content_id IS NULL;

-- Bytes an import did not store because the catalogue held them already.
ALTER TABLE imports ADD COLUMN bytes_saved bigint NOT NULL DEFAULT 0;

-- Objects to delete, and objects deleted: the one way an object leaves the store. A key is
-- due for deletion (`due_at`) from the transaction that drops its last use (a content no image
-- points at, an object the backfill moved), and when the sweep finds an object no content uses
-- (a worker died between its upload and its commit). When it is due, the object is deleted
-- unless a content uses its key again (then it is struck off). The last deletion of a key
-- stays on record a day (`deleted_at`): an upload in flight meanwhile finds it when it records
-- its content, and checks that its object is still there (domain/contents/repository.py).
CREATE TABLE object_deletions (
    storage_key text PRIMARY KEY,
    due_at      timestamptz,
    deleted_at  timestamptz,
    CHECK (due_at IS NOT NULL OR deleted_at IS NOT NULL)
);
CREATE INDEX object_deletions_due_idx ON object_deletions (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX object_deletions_done_idx ON object_deletions (deleted_at)
    WHERE due_at IS NULL;
