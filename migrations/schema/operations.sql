-- Operators' views over Procrastinate's job queue (its tables, read only: its functions are
-- its own business; the job counters' triggers on procrastinate_jobs write tables of ours
-- only), and what the worker records beside it. Ready-made queries over these and the other
-- files' views are in migrations/ops/. Applied by migrate on every run, last.


-- The counters behind job_counts_by_status (tables in migrations/versions/0031): each change
-- of procrastinate_jobs appends what it moved to job_count_changes, in the statement that made
-- it, so a rollback takes it back. Appending, not updating a counter row: a counter row would
-- make every worker's fetch and finish, and every transaction deferring jobs, wait for the
-- others' to commit. A deferral of many jobs (batch_defer) or a bulk delete appends one row
-- per queue, task and status; a status change (fetch, finish, retry, cancel), two.
CREATE OR REPLACE FUNCTION job_counts_count_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_count_changes (queue_name, task_name, status, change)
    SELECT queue_name, task_name, status, count(*) FROM inserted_jobs
    GROUP BY queue_name, task_name, status;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION job_counts_count_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_count_changes (queue_name, task_name, status, change)
    SELECT queue_name, task_name, status, -count(*) FROM deleted_jobs
    GROUP BY queue_name, task_name, status;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION job_counts_count_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_count_changes (queue_name, task_name, status, change)
    VALUES (OLD.queue_name, OLD.task_name, OLD.status, -1),
           (NEW.queue_name, NEW.task_name, NEW.status, 1);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION job_counts_count_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM job_count_changes;
    DELETE FROM job_count_totals;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER job_counts_inserted
    AFTER INSERT ON procrastinate_jobs REFERENCING NEW TABLE AS inserted_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_count_inserted();
CREATE OR REPLACE TRIGGER job_counts_deleted
    AFTER DELETE ON procrastinate_jobs REFERENCING OLD TABLE AS deleted_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_count_deleted();
CREATE OR REPLACE TRIGGER job_counts_moved
    AFTER UPDATE OF status, queue_name, task_name ON procrastinate_jobs
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.queue_name IS DISTINCT FROM NEW.queue_name
          OR OLD.task_name IS DISTINCT FROM NEW.task_name)
    EXECUTE FUNCTION job_counts_count_moved();
CREATE OR REPLACE TRIGGER job_counts_truncated
    AFTER TRUNCATE ON procrastinate_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_count_truncated();

-- The changes appended since the last fold, added into job_count_totals and deleted, in one
-- statement (a reader sees them on one side or the other, never both). The worker's
-- ops.fold_job_counts calls it every few seconds; one fold at a time (another returns 0 at
-- once). Returns how many changes it folded.
CREATE OR REPLACE FUNCTION job_counts_fold() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('job_counts')) THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM job_count_changes RETURNING queue_name, task_name, status, change
    ), summed AS (
        SELECT queue_name, task_name, status, sum(change)::bigint AS change, count(*) AS changes
        FROM moved GROUP BY queue_name, task_name, status
    ), added AS (
        INSERT INTO job_count_totals AS t (queue_name, task_name, status, jobs)
        SELECT queue_name, task_name, status, change FROM summed
        ON CONFLICT (queue_name, task_name, status) DO UPDATE SET jobs = t.jobs + excluded.jobs
    )
    SELECT coalesce(sum(changes), 0) INTO folded FROM summed;
    RETURN folded;
END;
$$;

-- The counters counted afresh from procrastinate_jobs, with its writes held off meanwhile (a
-- SHARE lock): run below whenever this file is applied, as the triggers above may be new, and
-- by an operator who doubts them (SELECT job_counts_recount();). The job queue pauses for one
-- pass over its jobs, once a deployment.
CREATE OR REPLACE FUNCTION job_counts_recount() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE procrastinate_jobs IN SHARE MODE;
    PERFORM pg_advisory_xact_lock(hashtext('job_counts'));
    DELETE FROM job_count_changes;
    DELETE FROM job_count_totals;
    INSERT INTO job_count_totals (queue_name, task_name, status, jobs)
    SELECT queue_name, task_name, status, count(*) FROM procrastinate_jobs
    GROUP BY queue_name, task_name, status;
END;
$$;

SELECT job_counts_recount();

-- Jobs per queue, task and status, exact, without counting the jobs: the counters of
-- job_count_totals plus the changes the triggers above appended since they were last folded
-- (one snapshot sees both, so the sum is what procrastinate_jobs holds).
CREATE OR REPLACE VIEW job_counts_by_status AS
SELECT queue_name, task_name, status, sum(jobs)::bigint AS jobs
FROM (
    SELECT queue_name, task_name, status, jobs FROM job_count_totals
    UNION ALL
    SELECT queue_name, task_name, status, change FROM job_count_changes
) counted
GROUP BY queue_name, task_name, status;

-- How long the queue has kept a job waiting, spelled once (job_counts, queue_health and GET
-- /metrics read it): a queue's and task's oldest waiting job is its lowest-numbered ready one
-- (the first deferred; procrastinate_jobs_todo_queue_task_id_idx finds it in one step), and it
-- waits from when it was queued (its latest `deferred`, `deferred_for_retry` or `retried`
-- event) or became due (its scheduled time), whichever is later.
CREATE OR REPLACE VIEW oldest_waiting_jobs AS
SELECT p.queue_name, p.task_name, f.id AS job_id,
       greatest(f.scheduled_at, (
           SELECT max(e.at) FROM procrastinate_events e
           WHERE e.job_id = f.id AND e.type IN ('deferred', 'deferred_for_retry', 'retried')
       )) AS waiting_since
FROM job_counts_by_status p
CROSS JOIN LATERAL (
    SELECT j.id, j.scheduled_at FROM procrastinate_jobs j
    WHERE j.status = 'todo' AND j.queue_name = p.queue_name AND j.task_name = p.task_name
      AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
    ORDER BY j.id LIMIT 1
) f
WHERE p.status = 'todo' AND p.jobs > 0;

-- Jobs per queue and task by status: `todo` can run now, `scheduled` waits for its time (a
-- retry's backoff, read from procrastinate_jobs_todo_scheduled_idx); `waiting_since` from
-- oldest_waiting_jobs. The console's overview (GET /ops/queues) reads it.
CREATE OR REPLACE VIEW job_counts AS
WITH statuses AS (
    SELECT queue_name, task_name,
           coalesce(sum(jobs) FILTER (WHERE status = 'todo'), 0)::bigint AS queued,
           coalesce(sum(jobs) FILTER (WHERE status = 'doing'), 0)::bigint AS doing,
           coalesce(sum(jobs) FILTER (WHERE status = 'failed'), 0)::bigint AS failed,
           coalesce(sum(jobs) FILTER (WHERE status = 'succeeded'), 0)::bigint AS succeeded,
           coalesce(sum(jobs) FILTER (WHERE status = 'cancelled'), 0)::bigint AS cancelled,
           coalesce(sum(jobs) FILTER (WHERE status = 'aborted'), 0)::bigint AS aborted
    FROM job_counts_by_status
    GROUP BY queue_name, task_name
    HAVING sum(jobs) > 0
), scheduled AS (
    SELECT queue_name::text AS queue_name, task_name::text AS task_name, count(*) AS jobs
    FROM procrastinate_jobs
    WHERE status = 'todo' AND scheduled_at IS NOT NULL AND scheduled_at > now()
    GROUP BY queue_name, task_name
)
SELECT s.queue_name, s.task_name,
       s.queued - coalesce(d.jobs, 0) AS todo,
       coalesce(d.jobs, 0) AS scheduled,
       s.doing, s.failed, s.succeeded, s.cancelled, s.aborted,
       w.waiting_since
FROM statuses s
LEFT JOIN scheduled d ON d.queue_name = s.queue_name AND d.task_name = s.task_name
LEFT JOIN oldest_waiting_jobs w ON w.queue_name = s.queue_name AND w.task_name = s.task_name;

-- Procrastinate's queue per queue name, from job_counts: `todo` jobs can run now;
-- `scheduled` ones wait for their time (a retry's backoff); `oldest_waiting`, how long the
-- oldest waiting ready job has waited (oldest_waiting_jobs). `failed`, `succeeded` and
-- `cancelled` (with `aborted`) count every job Procrastinate still keeps.
CREATE OR REPLACE VIEW queue_health AS
SELECT queue_name,
       sum(todo)::bigint AS todo,
       sum(scheduled)::bigint AS scheduled,
       sum(doing)::bigint AS doing,
       sum(failed)::bigint AS failed,
       sum(succeeded)::bigint AS succeeded,
       sum(cancelled + aborted)::bigint AS cancelled,
       date_trunc('second', now() - min(waiting_since)) AS oldest_waiting
FROM job_counts
GROUP BY queue_name;

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
-- which queues; and what each was started with, as it recorded itself in worker_processes
-- (Procrastinate records no more than an id and a heartbeat): its name, host, pid, the queues
-- it takes jobs from and its concurrency. A worker that has not recorded itself yet (or
-- predates worker_processes) has nulls there.
CREATE OR REPLACE VIEW queue_workers AS
SELECT w.id AS worker_id,
       w.last_heartbeat,
       date_trunc('second', now() - w.last_heartbeat) AS since_heartbeat,
       count(j.id) AS jobs_running,
       coalesce(array_agg(DISTINCT j.queue_name ORDER BY j.queue_name)
                FILTER (WHERE j.queue_name IS NOT NULL), '{}') AS queues,
       p.name,
       p.host,
       p.pid,
       p.queues AS serves_queues,
       p.concurrency,
       p.started_at
FROM procrastinate_workers w
LEFT JOIN worker_processes p ON p.worker_id = w.id
LEFT JOIN procrastinate_jobs j ON j.worker_id = w.id AND j.status = 'doing'
GROUP BY w.id, w.last_heartbeat, p.worker_id;

-- The operators' console (GET /ops/...) and its SQL twins in migrations/ops/ read the views
-- below. Procrastinate's JobManager answers one job (list_jobs_async(id=...)), stalled jobs,
-- retries and cancellations; these views cover what it has no bounded query for: its
-- list_queues/list_tasks group the whole table twice over (200 ms at 200,000 jobs; job_counts
-- reads counters instead) and list_jobs returns every matching job, unpaged.

-- One row per job, newest first by id, for paging (keyset on job_id) and filtering by queue,
-- task, status and import (procrastinate_jobs_status_id_idx, _status_queue_id_idx,
-- _status_task_id_idx and _import_id_idx serve them, as domain/ops/repository.py:
-- list_jobs_query asks: `status` stays Procrastinate's enum, as a cast would hide the index).
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

-- Each periodic task's last run: the tick Procrastinate's periodic deferrer last deferred it
-- for. Its next is computed by the API from the schedules declared in
-- domain/periodic_schedules.py, which the worker registers. The distinct tasks are found by
-- hopping along the unique index, not by reading every tick ever deferred.
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
       last.job_id AS last_job_id
FROM tasks t
CROSS JOIN LATERAL (
    SELECT d.defer_timestamp, d.job_id FROM procrastinate_periodic_defers d
    WHERE d.task_name = t.task_name AND d.periodic_id = t.periodic_id
    ORDER BY d.defer_timestamp DESC LIMIT 1
) last;

-- A failed attempt of a job, recorded by the worker's failure ladder (worker/failure_ladder.py)
-- in job_failures: only the last JOB_FAILURES_KEPT (5) of each job are kept, the older ones
-- deleted by the same call, and all of them go with the job (ON DELETE CASCADE). The message
-- and traceback arrive cut to size. Returns the new row's id.
CREATE OR REPLACE FUNCTION job_failure_record(
    p_job_id bigint, p_task_name text, p_attempt integer, p_outcome text, p_error_class text,
    p_message text, p_traceback text
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    kept CONSTANT integer := 5;
    recorded bigint;
BEGIN
    INSERT INTO job_failures (job_id, task_name, attempt, outcome, error_class, message, traceback)
    VALUES (p_job_id, p_task_name, p_attempt, p_outcome, p_error_class, p_message, p_traceback)
    RETURNING id INTO recorded;
    DELETE FROM job_failures
    WHERE job_id = p_job_id
      AND id < (SELECT f.id FROM job_failures f WHERE f.job_id = p_job_id
                ORDER BY f.id DESC OFFSET kept - 1 LIMIT 1);
    RETURN recorded;
END;
$$;
