-- The operators' console, second version (issue 26): tables of our own beside Procrastinate's,
-- which it never reads nor writes. Their functions, triggers and views are in
-- migrations/schema/operations.sql.

-- Jobs per queue, task and status, kept by triggers on procrastinate_jobs so that the console's
-- overview and GET /metrics read a few dozen rows instead of counting 200,000 jobs. A status
-- change appends a row to job_count_changes (no row that every job updates: two workers'
-- changes never wait for each other); job_counts_fold() moves them into job_count_totals every
-- few seconds (the worker's ops.fold_job_counts). What is counted is totals plus changes.
CREATE TABLE job_count_totals (
    queue_name text NOT NULL,
    task_name text NOT NULL,
    status procrastinate_job_status NOT NULL,
    jobs bigint NOT NULL,
    PRIMARY KEY (queue_name, task_name, status)
);

CREATE TABLE job_count_changes (
    queue_name text NOT NULL,
    task_name text NOT NULL,
    status procrastinate_job_status NOT NULL,
    change bigint NOT NULL
);

-- Each failed attempt of a job, as the worker's failure ladder saw it (Procrastinate keeps no
-- error text): the last few per job, and gone with the job.
CREATE TABLE job_failures (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id bigint NOT NULL REFERENCES procrastinate_jobs (id) ON DELETE CASCADE,
    task_name text NOT NULL,
    attempt integer NOT NULL,
    -- retried (the retry strategy runs it again), gave_up (recorded and ended) or bug.
    outcome text NOT NULL CHECK (outcome IN ('retried', 'gave_up', 'bug')),
    error_class text NOT NULL,
    message text NOT NULL,
    traceback text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_failures_job_id_idx ON job_failures (job_id, id);
CREATE INDEX job_failures_failed_at_idx ON job_failures (failed_at);

-- What each Procrastinate worker was started with (Procrastinate records only its id and
-- heartbeat): gone with its procrastinate_workers row, whether it unregistered or a live
-- worker pruned it as stalled.
CREATE TABLE worker_processes (
    worker_id bigint PRIMARY KEY REFERENCES procrastinate_workers (id) ON DELETE CASCADE,
    name text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    queues text[] NOT NULL,
    concurrency integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
);

-- Their columns change (job_counts reads the counters; periodic_runs no longer guesses the next
-- run, which the API computes from the schedules in domain/periodic_schedules.py): the schema
-- file creates them again.
DROP VIEW IF EXISTS queue_health;
DROP VIEW IF EXISTS job_counts;
DROP VIEW IF EXISTS periodic_runs;
