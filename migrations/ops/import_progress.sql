-- Progress and throughput of the latest imports, or of one: files found and settled, what is
-- left, and files and bytes per minute since the import started; a queued import waiting its
-- turn (MAX_ACTIVE_IMPORTS) has its place in line, 1 = next; files the source refuses for now
-- (its download quota) are counted, with when the next of them is tried.
--   psql "$DATABASE_URL" -f migrations/ops/import_progress.sql                   # latest 20
--   psql "$DATABASE_URL" -v limit=100 -f migrations/ops/import_progress.sql
--   psql "$DATABASE_URL" -v import_id=<uuid> -f migrations/ops/import_progress.sql
-- Reads the import_progress view (migrations/schema/imports.sql).
\set ON_ERROR_STOP on
\if :{?limit}
\else
\set limit 20
\endif
\if :{?import_id}
\set where 'WHERE import_id = ' :'import_id'
\else
\set where ''
\endif
SELECT import_id, status, queue_position, discovered, imported, unchanged, skipped, failed, removed, settled,
       waiting_for_quota, quota_next_try_at, pending, percent_done, elapsed, files_per_minute, bytes_imported, bytes_per_minute,
       pg_size_pretty(bytes_per_minute) || '/min' AS throughput
FROM import_progress
:where
ORDER BY created_at DESC, import_id DESC
LIMIT :limit;
