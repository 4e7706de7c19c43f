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

-- Registered worker processes, their last heartbeat and how many jobs each is running.
CREATE OR REPLACE VIEW queue_workers AS
SELECT w.id AS worker_id,
       w.last_heartbeat,
       date_trunc('second', now() - w.last_heartbeat) AS since_heartbeat,
       count(j.id) AS jobs_running
FROM procrastinate_workers w
LEFT JOIN procrastinate_jobs j ON j.worker_id = w.id AND j.status = 'doing'
GROUP BY w.id, w.last_heartbeat;
