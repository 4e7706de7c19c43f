-- transactional: false
-- The operators' console lists an import's jobs (GET /ops/jobs?import_id=): an index on the
-- import id Procrastinate's jobs carry in their arguments, so that a page of one import's
-- jobs reads those jobs only, not all 200,000 in the table. cancel_import's queued jobs
-- (domain/imports/repository.py: queued_job_ids) are found by the same expression.
--
-- CONCURRENTLY, as in 0022: jobs keep being deferred and taken while it is built.
DROP INDEX CONCURRENTLY IF EXISTS procrastinate_jobs_import_id_idx;
CREATE INDEX CONCURRENTLY procrastinate_jobs_import_id_idx
    ON procrastinate_jobs ((args ->> 'import_id'));

-- GET /ops/jobs?status=...: a page of one status, newest first, read from the index in order
-- rather than past every job of the other statuses (100,000 queued jobs sit below the
-- failed ones' ids).
DROP INDEX CONCURRENTLY IF EXISTS procrastinate_jobs_status_id_idx;
CREATE INDEX CONCURRENTLY procrastinate_jobs_status_id_idx ON procrastinate_jobs (status, id);
