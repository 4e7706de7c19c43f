-- Worker processes registered with the queue, their last heartbeat, the jobs each runs, and
-- what each was started with (as it recorded itself: name, host, pid, the queues it takes jobs
-- from, its concurrency, when it started). A worker silent for longer than
-- STALLED_WORKER_SECONDS (30 by default) is presumed dead.
--   psql "$DATABASE_URL" -f migrations/ops/workers.sql
-- Reads the queue_workers view (migrations/schema/operations.sql).
\set ON_ERROR_STOP on
SELECT worker_id, name, host, pid, array_to_string(serves_queues, ', ') AS serves_queues,
       concurrency, jobs_running, started_at, last_heartbeat, since_heartbeat
FROM queue_workers
ORDER BY worker_id;
