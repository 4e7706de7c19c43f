-- Jobs running for longer than a threshold (default 300 seconds), oldest first, with their
-- import, their folder or the first file of their batch (and how many files it carries), and
-- how long ago their worker last sent a heartbeat. A job on a worker silent for
-- STALLED_WORKER_SECONDS is put back by the workers themselves; one that runs long on a live
-- worker is stuck in the job (a slow download, a hung connection).
--   psql "$DATABASE_URL" -f migrations/ops/stalled_jobs.sql
--   psql "$DATABASE_URL" -v stalled_after=60 -f migrations/ops/stalled_jobs.sql
-- Reads the running_jobs view (migrations/schema/operations.sql).
\set ON_ERROR_STOP on
\if :{?stalled_after}
\else
\set stalled_after 300
\endif
SELECT job_id, queue_name, task_name, import_id, coalesce(file_id, folder_id) AS item, files,
       attempts, worker_id, running_for, since_worker_heartbeat
FROM running_jobs
WHERE started_at < now() - make_interval(secs => :'stalled_after')
ORDER BY running_for DESC, job_id;
