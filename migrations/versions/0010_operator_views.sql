-- What operators read and do with plain SQL: views of each import's progress and failures and of
-- the job queue, and the two things done to an import, re-queueing its failed files and
-- cancelling it, as functions the API calls too. Ready-made queries are in migrations/ops/.
-- depends: 0004_source_pacing

-- An import can be cancelled: a terminal status, like completed or failed. It frees the folder
-- for a new import: imports_one_live_per_folder_idx still covers only queued and running.
ALTER TABLE imports DROP CONSTRAINT imports_status_check;
ALTER TABLE imports ADD CONSTRAINT imports_status_check
    CHECK (status IN ('queued', 'running', 'completed', 'completed_with_errors', 'failed',
                      'cancelled'));

-- A cancelled import changes no more. Jobs of it can still be running when it is cancelled (a
-- transfer mid-download, a listing page mid-request); whatever they would record afterwards is
-- refused, and the job's whole transaction rolls back with it. A transaction that records a
-- file or moves a count updates the imports row, and that row's lock orders it with the
-- cancellation: it commits wholly before it, or fails. The job's retry then finds the import
-- cancelled and stops. Nothing here takes a lock the worker did not take already.
CREATE FUNCTION refuse_changes_to_cancelled_import() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'import % was cancelled: it changes no more', OLD.id
        USING ERRCODE = 'object_not_in_prerequisite_state';
END;
$$;

CREATE TRIGGER imports_final_once_cancelled
    BEFORE UPDATE ON imports
    FOR EACH ROW WHEN (OLD.status = 'cancelled')
    EXECUTE FUNCTION refuse_changes_to_cancelled_import();

-- The same for an import's files and folders, for changes that start after the cancellation.
CREATE FUNCTION refuse_changes_to_parts_of_cancelled_import() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM imports WHERE id = NEW.import_id AND status = 'cancelled') THEN
        RAISE EXCEPTION 'import % was cancelled: it changes no more', NEW.import_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER import_files_final_once_cancelled
    BEFORE INSERT OR UPDATE ON import_files
    FOR EACH ROW EXECUTE FUNCTION refuse_changes_to_parts_of_cancelled_import();
CREATE TRIGGER import_folders_final_once_cancelled
    BEFORE INSERT OR UPDATE ON import_folders
    FOR EACH ROW EXECUTE FUNCTION refuse_changes_to_parts_of_cancelled_import();


-- Progress and throughput of every import. `pending` files are found but not settled yet;
-- `percent_done` is of the files found so far (a folder still being listed finds more). Rates
-- divide the settled files and the imported bytes by the time since the import started.
CREATE VIEW import_progress AS
SELECT i.id AS import_id,
       i.source,
       i.folder_id,
       i.status,
       i.discovered,
       i.imported,
       i.unchanged,
       i.skipped,
       i.failed,
       i.discovered - t.settled AS pending,
       i.folders_pending AS folders_to_list,
       i.bytes_imported,
       CASE WHEN i.discovered > 0 THEN round(100.0 * t.settled / i.discovered, 1) END
           AS percent_done,
       i.created_at,
       i.started_at,
       i.finished_at,
       date_trunc('second', t.elapsed) AS elapsed,
       round(t.settled / t.minutes, 1) AS files_per_minute,
       round(i.bytes_imported / t.minutes)::bigint AS bytes_per_minute,
       i.error
FROM imports i
CROSS JOIN LATERAL (
    SELECT i.imported + i.unchanged + i.skipped + i.failed AS settled,
           coalesce(i.finished_at, now()) - i.started_at AS elapsed,
           nullif(extract(epoch FROM coalesce(i.finished_at, now()) - i.started_at), 0) / 60
               AS minutes
) t;

-- Files that failed for good, by import and reason.
CREATE VIEW import_failures_by_reason AS
SELECT import_id,
       coalesce(reason, '(no reason recorded)') AS reason,
       count(*) AS files,
       max(attempts) AS max_attempts,
       min(updated_at) AS first_failed_at,
       max(updated_at) AS last_failed_at,
       (array_agg(name ORDER BY name))[1:3] AS example_names
FROM import_files
WHERE state = 'failed'
GROUP BY import_id, reason;

-- The same over every import: which failures are common, and how widely.
CREATE VIEW failures_by_reason AS
SELECT reason,
       sum(files)::bigint AS files,
       count(*) AS imports,
       max(last_failed_at) AS last_failed_at
FROM import_failures_by_reason
GROUP BY reason;


-- Procrastinate's queue per queue name. `todo` jobs can run now; `scheduled` ones wait for their
-- time (a retry's backoff). A job waits from when it was queued (its latest `deferred`,
-- `deferred_for_retry` or `retried` event) or from its scheduled time, whichever is later.
-- `failed`, `succeeded` and `cancelled` count every job Procrastinate still keeps.
CREATE VIEW queue_health AS
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
-- long on a live worker is stuck in the job itself.
CREATE VIEW running_jobs AS
SELECT j.id AS job_id,
       j.queue_name,
       j.task_name,
       j.args ->> 'import_id' AS import_id,
       j.args ->> 'file_id' AS file_id,
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
CREATE VIEW queue_workers AS
SELECT w.id AS worker_id,
       w.last_heartbeat,
       date_trunc('second', now() - w.last_heartbeat) AS since_heartbeat,
       count(j.id) AS jobs_running
FROM procrastinate_workers w
LEFT JOIN procrastinate_jobs j ON j.worker_id = w.id AND j.status = 'doing'
GROUP BY w.id, w.last_heartbeat;


-- Every failed file of the import back to pending with a clean slate, one transfer job queued
-- for each, and the import running until they settle: what POST /imports/{id}/retry does.
-- Returns how many files were re-queued (0 when none had failed; the import is then unchanged).
-- Raises no_data_found (P0002) for an unknown import; object_not_in_prerequisite_state (55000)
-- for one that failed as a whole, is still queued or was cancelled; unique_violation (23505,
-- constraint imports_one_live_per_folder_idx) when another import of its folder is live.
-- Concurrent calls for one import run one after the other; each failed file is queued once.
CREATE FUNCTION requeue_failed_files(import_id uuid) RETURNS integer
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    current_status text;
    file_ids text[];
BEGIN
    SELECT status INTO current_status
    FROM imports WHERE id = requeue_failed_files.import_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no import with id %', requeue_failed_files.import_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF current_status = 'failed' THEN
        RAISE EXCEPTION 'import % failed as a whole (its folder could not be listed), so it has '
                        'no files to retry: start a new import of the folder',
                        requeue_failed_files.import_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    ELSIF current_status = 'queued' THEN
        RAISE EXCEPTION 'import % has not started yet, so no file has failed',
                        requeue_failed_files.import_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    ELSIF current_status = 'cancelled' THEN
        RAISE EXCEPTION 'import % was cancelled: start a new import of the folder',
                        requeue_failed_files.import_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    WITH requeued AS (
        UPDATE import_files
        SET state = 'pending', reason = NULL, attempts = 0, updated_at = now()
        WHERE import_id = requeue_failed_files.import_id AND state = 'failed'
        RETURNING source_file_id
    )
    SELECT array_agg(source_file_id ORDER BY source_file_id) INTO file_ids FROM requeued;
    IF file_ids IS NULL THEN
        RETURN 0;
    END IF;

    BEGIN
        UPDATE imports
        SET failed = failed - cardinality(file_ids), status = 'running', finished_at = NULL
        WHERE id = requeue_failed_files.import_id;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'another import of the same folder is running: retry import % after it '
                        'finishes, or let that import fetch the files',
                        requeue_failed_files.import_id
            USING ERRCODE = 'unique_violation',
                  TABLE = 'imports',
                  CONSTRAINT = 'imports_one_live_per_folder_idx';
    END;

    -- The same jobs the worker's own `defer` makes: task name, queue, default priority, no lock.
    PERFORM procrastinate_defer_jobs_v1(ARRAY(
        SELECT ROW('transfers', 'import.transfer_file', 0, NULL, NULL,
                   jsonb_build_object('import_id', requeue_failed_files.import_id::text,
                                      'file_id', file_id),
                   NULL)::procrastinate_job_to_defer_v1
        FROM unnest(file_ids) AS file_id
    ));
    RETURN cardinality(file_ids);
END;
$$;

-- Stop an import: status `cancelled`, finished now, and its queued jobs cancelled through
-- Procrastinate's own procrastinate_cancel_job_v1, one by one. What it imported stays. Jobs
-- already running finish without recording anything (the worker stops on any status other than
-- running, and the triggers above refuse what they would still write). Returns how many queued
-- jobs were cancelled; an import that is no longer queued or running is left alone and gives 0.
-- Raises no_data_found (P0002) for an unknown import.
CREATE FUNCTION cancel_import(import_id uuid) RETURNS integer
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    current_status text;
    job_id bigint;
    cancelled integer := 0;
BEGIN
    SELECT status INTO current_status
    FROM imports WHERE id = cancel_import.import_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no import with id %', cancel_import.import_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF current_status NOT IN ('queued', 'running') THEN
        RETURN 0;
    END IF;

    UPDATE imports SET status = 'cancelled', finished_at = now()
    WHERE id = cancel_import.import_id;

    FOR job_id IN
        SELECT id FROM procrastinate_jobs
        WHERE status = 'todo' AND args ->> 'import_id' = cancel_import.import_id::text
        ORDER BY id
    LOOP
        -- NULL when a worker took the job in the meantime: it will find the import cancelled.
        IF procrastinate_cancel_job_v1(job_id, false, false) IS NOT NULL THEN
            cancelled := cancelled + 1;
        END IF;
    END LOOP;
    RETURN cancelled;
END;
$$;
