-- Thumbnails (derivatives) of the latest imports' images, or of one import: made, waiting for a
-- job, not possible, and missing (stored before derivatives; queue_derivatives.sql queues them).
-- Why thumbnails could not be made: SELECT * FROM derivative_failures_by_reason;
--   psql "$DATABASE_URL" -f migrations/ops/thumbnail_progress.sql
--   psql "$DATABASE_URL" -v import_id=<uuid> -f migrations/ops/thumbnail_progress.sql
-- Reads image_derivative_progress and derivative_failures_by_reason
-- (migrations/schema/derivatives.sql).
\set ON_ERROR_STOP on
\if :{?limit}
\else
\set limit 20
\endif
\if :{?import_id}
\set where 'WHERE p.import_id = ' :'import_id'
\else
\set where ''
\endif
SELECT p.import_id, p.import_status, p.done, p.pending, p.not_possible, p.missing
FROM image_derivative_progress p JOIN imports i ON i.id = p.import_id
:where
ORDER BY i.created_at DESC, i.id DESC
LIMIT :limit;
