-- Cancel an import: its status becomes `cancelled`; its queued jobs end without doing anything
-- when a worker takes them (POST /imports/<uuid>/cancel also cancels them in Procrastinate),
-- and jobs already running record nothing more. What it imported stays. Prints how many of its
-- jobs were queued; an import that already finished (or was cancelled) is left alone and
-- prints 0.
--   psql "$DATABASE_URL" -v import_id=<uuid> -f migrations/ops/cancel_import.sql
-- Calls cancel_import(uuid) (migrations/schema/imports.sql).
\set ON_ERROR_STOP on
\if :{?import_id}
\else
DO $$ BEGIN RAISE EXCEPTION 'give the import: psql "$DATABASE_URL" -v import_id=<uuid> -f migrations/ops/cancel_import.sql'; END $$;
\endif
SELECT cancel_import(:'import_id') AS cancelled_jobs;
