-- The job queue per queue: jobs ready to run (todo), waiting for a retry's time (scheduled),
-- running (doing), and kept failed/succeeded/cancelled ones, with how long the oldest ready job
-- has waited. A growing `todo` with an old `oldest_waiting` means too few workers (or none).
--   psql "$DATABASE_URL" -f migrations/ops/queue_health.sql
-- Reads the queue_health view (migrations/schema/operations.sql), over Procrastinate's
-- procrastinate_jobs and procrastinate_events.
\set ON_ERROR_STOP on
SELECT queue_name, todo, scheduled, doing, failed, succeeded, cancelled, oldest_waiting
FROM queue_health
ORDER BY queue_name;
