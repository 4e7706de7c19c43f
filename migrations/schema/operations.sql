-- Operators' views over Procrastinate's job queue (its tables, read only: its functions are
-- its own business). Ready-made queries over these and the other files' views are in
-- migrations/ops/. Applied by migrate on every run, last.


-- Procrastinate's queue per queue name. `todo` jobs can run now; `scheduled` ones wait for their
-- time (a retry's backoff). A job waits from when it was queued (its latest `deferred`,
-- `deferred_for_retry` or `retried` event) or from its scheduled time, whichever is later.
-- `failed`, `succeeded` and `cancelled` count every job Procrastinate still keeps.
CREATE OR REPLACE VIEW queue_health AS
WITH ready AS (
    SELECT j.queue_name, greatest(j.scheduled_at, q.queued_at) AS waiting_since
    FROM procrastinate_jobs j
    LEFT JOIN LATERAL (
        SELECT max(e.at) AS queued_at
        FROM procrastinate_events e
        WHERE e.job_id = j.id AND e.type IN ('deferred', 'deferred_for_retry', 'retried')
    ) q ON true
    WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
)
SELECT j.queue_name,
       count(*) FILTER (WHERE j.status = 'todo'
                          AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())) AS todo,
       count(*) FILTER (WHERE j.status = 'todo' AND j.scheduled_at > now()) AS scheduled,
       count(*) FILTER (WHERE j.status = 'doing') AS doing,
       count(*) FILTER (WHERE j.status = 'failed') AS failed,
       count(*) FILTER (WHERE j.status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE j.status IN ('cancelled', 'aborted')) AS cancelled,
       (SELECT date_trunc('second', now() - min(r.waiting_since))
        FROM ready r WHERE r.queue_name = j.queue_name) AS oldest_waiting
FROM procrastinate_jobs j
GROUP BY j.queue_name;

-- Jobs being run, since when, and whether their worker still sends heartbeats. A job whose
-- worker stopped beating is put back by the worker's `import.recover_stalled_jobs`; one running
-- long on a live worker is stuck in the job itself. A listing job names its folder, a transfer
-- batch its first file and how many files it carries.
CREATE OR REPLACE VIEW running_jobs AS
SELECT j.id AS job_id,
       j.queue_name,
       j.task_name,
       j.args ->> 'import_id' AS import_id,
       coalesce(j.args ->> 'file_id', j.args -> 'file_ids' ->> 0) AS file_id,
       CASE WHEN j.args ? 'file_ids' THEN jsonb_array_length(j.args -> 'file_ids')
            WHEN j.args ? 'file_id' THEN 1
            ELSE 0 END AS files,
       j.args ->> 'folder_id' AS folder_id,
       j.attempts,
       j.worker_id,
       s.started_at,
       date_trunc('second', now() - s.started_at) AS running_for,
       date_trunc('second', now() - w.last_heartbeat) AS since_worker_heartbeat
FROM procrastinate_jobs j
LEFT JOIN LATERAL (
    SELECT max(e.at) AS started_at
    FROM procrastinate_events e
    WHERE e.job_id = j.id AND e.type = 'started'
) s ON true
LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
WHERE j.status = 'doing';

-- Registered worker processes, their last heartbeat, how many jobs each is running and on
-- which queues (Procrastinate records no more of a worker: its queues and concurrency are the
-- worker's settings, WORKER_CONCURRENCY and the like).
CREATE OR REPLACE VIEW queue_workers AS
SELECT w.id AS worker_id,
       w.last_heartbeat,
       date_trunc('second', now() - w.last_heartbeat) AS since_heartbeat,
       count(j.id) AS jobs_running,
       coalesce(array_agg(DISTINCT j.queue_name ORDER BY j.queue_name)
                FILTER (WHERE j.queue_name IS NOT NULL), '{}') AS queues
FROM procrastinate_workers w
LEFT JOIN procrastinate_jobs j ON j.worker_id = w.id AND j.status = 'doing'
GROUP BY w.id, w.last_heartbeat;

-- The operators' console (GET /ops/...) and its SQL twins in migrations/ops/ read the views
-- below. Procrastinate's JobManager answers one job (list_jobs_async(id=...)), stalled jobs,
-- retries and cancellations; these views cover what it has no bounded query for: its
-- list_queues/list_tasks group the whole table twice over (200 ms at 200,000 jobs, against
-- 50 ms for job_counts' one pass) and list_jobs returns every matching job, unpaged.

-- Jobs per queue and task by status, in one pass: `todo` can run now, `scheduled` waits for
-- its time; `waiting_since` is when the lowest-numbered ready job (the first deferred) was
-- queued or became due, as GET /metrics reads it (one event lookup per row, not per job).
CREATE OR REPLACE VIEW job_counts AS
WITH counts AS (
    SELECT queue_name, task_name,
           count(*) FILTER (WHERE status = 'todo'
                              AND (scheduled_at IS NULL OR scheduled_at <= now())) AS todo,
           count(*) FILTER (WHERE status = 'todo' AND scheduled_at > now()) AS scheduled,
           count(*) FILTER (WHERE status = 'doing') AS doing,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
           count(*) FILTER (WHERE status = 'aborted') AS aborted,
           min(id) FILTER (WHERE status = 'todo'
                             AND (scheduled_at IS NULL OR scheduled_at <= now())) AS first_ready_job_id
    FROM procrastinate_jobs
    GROUP BY queue_name, task_name
)
SELECT c.*,
       (SELECT greatest(j.scheduled_at, max(e.at))
        FROM procrastinate_jobs j
        LEFT JOIN procrastinate_events e
               ON e.job_id = j.id AND e.type IN ('deferred', 'deferred_for_retry', 'retried')
        WHERE j.id = c.first_ready_job_id
        GROUP BY j.scheduled_at) AS waiting_since
FROM counts c;

-- One row per job, newest first by id, for paging (keyset on job_id) and filtering by queue,
-- task, status and import (procrastinate_jobs_status_id_idx and procrastinate_jobs_import_id_idx
-- serve them: `status` stays Procrastinate's enum, as a cast would hide the index).
CREATE OR REPLACE VIEW job_list AS
SELECT j.id AS job_id,
       j.queue_name,
       j.task_name,
       j.status,
       j.attempts,
       j.priority,
       j.scheduled_at,
       j.worker_id,
       j.abort_requested,
       j.args ->> 'import_id' AS import_id,
       j.args
FROM procrastinate_jobs j;

-- A job's timeline: every event Procrastinate recorded of it (deferred, started, failed,
-- retried, cancelled, abort_requested...), in order. A job that succeeded is deleted with its
-- events (the worker's delete_jobs="successful").
CREATE OR REPLACE VIEW job_timeline AS
SELECT e.job_id, e.id AS event_id, e.type::text AS type, e.at
FROM procrastinate_events e;

-- Each periodic task's last run (the tick Procrastinate's periodic deferrer last deferred it
-- for) and its next, one interval later: the interval is the gap between its last two ticks,
-- as the schedules live in the worker's code (worker/periodic.py). The distinct tasks are
-- found by hopping along the unique index, not by reading every tick ever deferred.
CREATE OR REPLACE VIEW periodic_runs AS
WITH RECURSIVE tasks AS (
    (SELECT task_name, periodic_id FROM procrastinate_periodic_defers
     ORDER BY task_name, periodic_id LIMIT 1)
    UNION ALL
    SELECT n.task_name, n.periodic_id
    FROM tasks t
    CROSS JOIN LATERAL (
        SELECT d.task_name, d.periodic_id FROM procrastinate_periodic_defers d
        WHERE (d.task_name, d.periodic_id) > (t.task_name, t.periodic_id)
        ORDER BY d.task_name, d.periodic_id LIMIT 1
    ) n
)
SELECT t.task_name,
       t.periodic_id,
       to_timestamp(last.defer_timestamp) AS last_run_at,
       last.job_id AS last_job_id,
       last.defer_timestamp - prev.defer_timestamp AS every_seconds,
       to_timestamp(2 * last.defer_timestamp - prev.defer_timestamp) AS next_run_at
FROM tasks t
CROSS JOIN LATERAL (
    SELECT d.defer_timestamp, d.job_id FROM procrastinate_periodic_defers d
    WHERE d.task_name = t.task_name AND d.periodic_id = t.periodic_id
    ORDER BY d.defer_timestamp DESC LIMIT 1
) last
LEFT JOIN LATERAL (
    SELECT d.defer_timestamp FROM procrastinate_periodic_defers d
    WHERE d.task_name = t.task_name AND d.periodic_id = t.periodic_id
      AND d.defer_timestamp < last.defer_timestamp
    ORDER BY d.defer_timestamp DESC LIMIT 1
) prev ON true;
