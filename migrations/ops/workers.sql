-- Worker processes registered with the queue, their last heartbeat, and the jobs each runs.
-- A worker silent for longer than STALLED_WORKER_SECONDS (30 by default) is presumed dead.
--   psql "$DATABASE_URL" -f migrations/ops/workers.sql
-- Reads the queue_workers view (migrations/schema/operations.sql).
\set ON_ERROR_STOP on
SELECT worker_id, last_heartbeat, since_heartbeat, jobs_running
FROM queue_workers
ORDER BY worker_id;
