-- The import ledger and the image catalogue.
-- depends: 0001_procrastinate

-- One row per import request: its life cycle and live counters. Counters are updated in the same
-- transaction that settles a file, so they never drift from import_files.
CREATE TABLE imports (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source           text NOT NULL CHECK (source IN ('google_drive', 'dropbox')),
    source_url       text NOT NULL,
    folder_id        text NOT NULL,
    resource_key     text,
    recursive        boolean NOT NULL DEFAULT true,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'completed', 'completed_with_errors', 'failed')),
    error            text,
    folders_pending  integer NOT NULL DEFAULT 0 CHECK (folders_pending >= 0),
    discovered       integer NOT NULL DEFAULT 0,
    imported         integer NOT NULL DEFAULT 0,
    skipped          integer NOT NULL DEFAULT 0,
    failed           integer NOT NULL DEFAULT 0,
    bytes_imported   bigint  NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE INDEX imports_newest_idx ON imports (created_at DESC, id DESC);

-- Listing checkpoint, one row per folder reached by an import: a crashed listing resumes from
-- next_page_token, and pages_listed is the version a page job must still see to commit its page.
CREATE TABLE import_folders (
    import_id        uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    folder_id        text NOT NULL,
    resource_key     text,
    next_page_token  text,
    pages_listed     integer NOT NULL DEFAULT 0,
    done             boolean NOT NULL DEFAULT false,
    PRIMARY KEY (import_id, folder_id)
);

-- Every file an import discovered and what became of it.
CREATE TABLE import_files (
    import_id        uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    source_file_id   text NOT NULL,
    name             text NOT NULL,
    mime_type        text NOT NULL,
    size             bigint,
    md5_checksum     text,
    resource_key     text,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'imported', 'skipped', 'failed')),
    reason           text,
    attempts         integer NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (import_id, source_file_id)
);
CREATE INDEX import_files_not_imported_idx ON import_files (import_id, state) WHERE state <> 'imported';

-- The catalogue: one row per source file, whichever import brought it.
CREATE TABLE images (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source           text NOT NULL,
    source_file_id   text NOT NULL,
    google_drive_id  text GENERATED ALWAYS AS
                     (CASE WHEN source = 'google_drive' THEN source_file_id END) STORED,
    import_id        uuid NOT NULL REFERENCES imports (id),
    name             text NOT NULL,
    mime_type        text NOT NULL,
    size             bigint NOT NULL CHECK (size >= 0),
    md5_checksum     text,
    storage_key      text NOT NULL,
    storage_path     text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, source_file_id)
);
-- Keyset pagination, newest first.
CREATE INDEX images_newest_idx ON images (created_at DESC, id DESC);
CREATE INDEX images_import_idx ON images (import_id, created_at DESC, id DESC);
