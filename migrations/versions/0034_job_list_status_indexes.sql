-- transactional: false
-- The console's jobs of one status in one queue, or of one task (GET /ops/jobs?queue=...&status=
-- and ?task=...&status=, which the overview links to), newest first: a page read from these
-- indexes in order, rather than down the primary key or procrastinate_jobs_status_id_idx past
-- every newer job of the other statuses, queues and tasks (100,000 queued jobs behind 100,000
-- failed ones). domain/ops/repository.py: list_jobs_query orders a page by the index's column
-- before the id (spelled as a range of one value) and the id, an order only the index meant
-- gives, so that the planner reads it.
--
-- CONCURRENTLY, as in 0022: jobs keep being deferred and taken while they are built.
-- depends: 0033_contents_stored_once
DROP INDEX CONCURRENTLY IF EXISTS procrastinate_jobs_status_queue_id_idx;
CREATE INDEX CONCURRENTLY procrastinate_jobs_status_queue_id_idx
    ON procrastinate_jobs (status, queue_name, id);

DROP INDEX CONCURRENTLY IF EXISTS procrastinate_jobs_status_task_id_idx;
CREATE INDEX CONCURRENTLY procrastinate_jobs_status_task_id_idx
    ON procrastinate_jobs (status, task_name, id);
