-- Every sync (or one) with its schedule, its last run and the images it found gone.
--   psql "$DATABASE_URL" -f migrations/ops/syncs.sql
--   psql "$DATABASE_URL" -v sync_id=<uuid> -f migrations/ops/syncs.sql
-- Pause one: UPDATE syncs SET paused_at = now() WHERE id = '<uuid>';  resume: paused_at = NULL.
-- Reads sync_overview (migrations/schema/syncs.sql).
\set ON_ERROR_STOP on
\if :{?sync_id}
\set where 'WHERE sync_id = ' :'sync_id'
\else
\set where ''
\endif
SELECT sync_id, source, folder_id, every, on_removed, paused, next_run_at, runs, last_run_at,
       last_skip, last_import_id, last_status, last_imported, last_unchanged, last_failed,
       last_removed, last_finished_at, removed_images
FROM sync_overview
:where
ORDER BY last_run_at DESC NULLS LAST, sync_id;
