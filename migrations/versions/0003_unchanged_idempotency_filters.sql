-- Re-imports that skip unchanged files, idempotent and de-duplicated import requests, the
-- indexes behind the image filters, and notes on an import's known limits.
-- depends: 0002_imports_and_images

ALTER TABLE imports
    ADD COLUMN unchanged           integer NOT NULL DEFAULT 0,
    ADD COLUMN notes               text,
    ADD COLUMN idempotency_key     text,
    ADD COLUMN request_fingerprint text;

-- A retried POST with the same Idempotency-Key finds the import it created.
CREATE UNIQUE INDEX imports_idempotency_key_idx ON imports (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- At most one live import per folder: posting it again returns the running one.
CREATE UNIQUE INDEX imports_one_live_per_folder_idx ON imports (source, folder_id)
    WHERE status IN ('queued', 'running');

ALTER TABLE import_files DROP CONSTRAINT import_files_state_check;
ALTER TABLE import_files ADD CONSTRAINT import_files_state_check
    CHECK (state IN ('pending', 'imported', 'unchanged', 'skipped', 'failed'));

-- Filters on GET /images, each usable together with the (created_at, id) keyset order.
CREATE INDEX images_source_newest_idx ON images (source, created_at DESC, id DESC);
CREATE INDEX images_mime_type_newest_idx ON images (mime_type, created_at DESC, id DESC);
CREATE INDEX images_size_idx ON images (size);

-- Case-insensitive "name contains" needs trigrams. pg_trgm ships with PostgreSQL's contrib and
-- with every managed service; builds without it (the embedded test server) fall back to a scan.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX images_name_trgm_idx ON images USING gin (name gin_trgm_ops);
EXCEPTION
    WHEN undefined_file OR insufficient_privilege OR feature_not_supported THEN
        RAISE NOTICE 'pg_trgm is not available: GET /images?q= will scan instead of using an index';
END
$$;
