-- transactional: false
-- The oldest waiting job of each queue and task (operations.sql: oldest_waiting_jobs), read by
-- the console, queue_health and GET /metrics: the lowest-numbered ready job of a queue and
-- task, found by one step down this index instead of a pass over every queued job.
--
-- CONCURRENTLY, as in 0022: jobs keep being deferred and taken while it is built.
DROP INDEX CONCURRENTLY IF EXISTS procrastinate_jobs_todo_queue_task_id_idx;
CREATE INDEX CONCURRENTLY procrastinate_jobs_todo_queue_task_id_idx
    ON procrastinate_jobs (queue_name, task_name, id) WHERE status = 'todo';

-- Queued jobs whose time has not come (a retry's backoff): job_counts splits them from the
-- ready ones, reading only these.
DROP INDEX CONCURRENTLY IF EXISTS procrastinate_jobs_todo_scheduled_idx;
CREATE INDEX CONCURRENTLY procrastinate_jobs_todo_scheduled_idx
    ON procrastinate_jobs (scheduled_at, queue_name, task_name)
    WHERE status = 'todo' AND scheduled_at IS NOT NULL;
