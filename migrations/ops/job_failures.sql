-- Jobs' last errors, newest first, as the worker's failure ladder recorded them (Procrastinate
-- keeps no error text): a job's failed attempts (the last five are kept), or, without a job
-- id, the latest failures of every job (default 50), with their job's status now.
-- `GET /ops/jobs/<id>` answers the same under `failures`.
--   psql "$DATABASE_URL" -v job_id=<id> -f migrations/ops/job_failures.sql
--   psql "$DATABASE_URL" -v limit=20 -f migrations/ops/job_failures.sql
-- Reads the job_failures table (migrations/versions/0031_ops_console_tables.sql).
\set ON_ERROR_STOP on
\if :{?limit}
\else
\set limit 50
\endif
\if :{?job_id}
\else
\set job_id ''
\endif
SELECT f.job_id, f.task_name, j.status AS job_status, f.attempt, f.outcome, f.error_class,
       f.message, f.failed_at
FROM job_failures f
LEFT JOIN procrastinate_jobs j ON j.id = f.job_id
WHERE (nullif(:'job_id', '') IS NULL OR f.job_id = nullif(:'job_id', '')::bigint)
ORDER BY f.id DESC
LIMIT :'limit'::integer;
