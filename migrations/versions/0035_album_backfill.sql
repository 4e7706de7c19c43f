-- transactional: false
-- The album backfill (issue 25's gap): images stored before 0029_albums have no album, and the
-- database does not know their folder (import_files.folder_id is NULL on their files, and
-- Drive's and Dropbox's file ids say nothing of it). Only a new listing of their import's
-- folder tree finds it: the worker's `album.backfill` lists each such import again, pages only,
-- no bytes (worker/src/worker/albums/backfill.py), and records what it found with the
-- listing's own functions (migrations/schema/albums.sql). These tables are its checkpoint, so
-- a killed run goes on from the last page it committed.
--
-- CONCURRENTLY, as in 0022: imports keep storing images while the index is built.
-- depends: 0034_job_list_status_indexes

-- One row per import whose images the backfill placed (or is placing): made when it starts,
-- finished when its last folder is listed, so an import is listed again once only.
CREATE TABLE IF NOT EXISTS album_backfills (
    import_id     uuid PRIMARY KEY REFERENCES imports (id) ON DELETE CASCADE,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    -- Images that took an album from this listing.
    images_placed integer NOT NULL DEFAULT 0,
    -- Why the import's folder could not be listed (gone, no longer shared): its images keep
    -- no album.
    error         text
);

-- The listing checkpoint of each folder a backfill reached, as import_folders is an import's.
CREATE TABLE IF NOT EXISTS album_backfill_folders (
    import_id       uuid NOT NULL REFERENCES album_backfills (import_id) ON DELETE CASCADE,
    folder_id       text NOT NULL,
    resource_key    text,
    next_page_token text,
    pages_listed    integer NOT NULL DEFAULT 0,
    done            boolean NOT NULL DEFAULT false,
    -- Why this folder could not be listed (removed since): listed as done, its files unplaced.
    error           text,
    PRIMARY KEY (import_id, folder_id)
);
-- The backfill's next folder to list: one step into this index.
CREATE INDEX IF NOT EXISTS album_backfill_folders_todo_idx
    ON album_backfill_folders (import_id, folder_id) WHERE NOT done;

-- Imports with images still without an album, found without reading the placed ones (at a
-- million images, all of them once the backfill is through).
DROP INDEX CONCURRENTLY IF EXISTS images_without_album_idx;
CREATE INDEX CONCURRENTLY images_without_album_idx ON images (import_id)
    WHERE album_id IS NULL AND removed_at IS NULL;
