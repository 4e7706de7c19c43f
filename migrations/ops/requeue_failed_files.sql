-- Re-queue an import's failed files, as POST /imports/<uuid>/retry does: they go back to
-- pending, the worker queues their transfers within seconds, and a finished import runs again
-- until they settle.
-- Prints how many files were re-queued (0: none had failed). Refused, with the reason, for an
-- import that failed as a whole, is still queued, was cancelled, or whose folder has another
-- live import.
--   psql "$DATABASE_URL" -v import_id=<uuid> -f migrations/ops/requeue_failed_files.sql
-- Calls requeue_failed_files(uuid) (migrations/schema/imports.sql).
\set ON_ERROR_STOP on
\if :{?import_id}
\else
DO $$ BEGIN RAISE EXCEPTION 'give the import: psql "$DATABASE_URL" -v import_id=<uuid> -f migrations/ops/requeue_failed_files.sql'; END $$;
\endif
SELECT requeue_failed_files(:'import_id') AS requeued;
