-- Why an import's files failed for good: one row per reason, with how many files, their most
-- attempts, when, and a few of their names. `GET /imports/<uuid>/failures` lists the files.
--   psql "$DATABASE_URL" -v import_id=<uuid> -f migrations/ops/import_failures.sql
-- Reads the import_failures_by_reason view (migrations/schema/imports.sql).
\set ON_ERROR_STOP on
\if :{?import_id}
\else
DO $$ BEGIN RAISE EXCEPTION 'give the import: psql "$DATABASE_URL" -v import_id=<uuid> -f migrations/ops/import_failures.sql'; END $$;
\endif
SELECT reason, files, max_attempts, last_failed_at, array_to_string(example_names, ', ') AS examples
FROM import_failures_by_reason
WHERE import_id = :'import_id'
ORDER BY files DESC, reason;
