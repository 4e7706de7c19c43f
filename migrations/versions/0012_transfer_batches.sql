-- Transfers in batches: one `import.transfer_batch` job carries many files of one import
-- (`{"import_id": ..., "file_ids": [...]}`), instead of one job per file. What became of each
-- file stays in import_files, so a re-run of a batch transfers only the files still pending.
-- depends: 0011_import_caps

-- Transfer jobs queued by a worker of the previous version become batches of one file.
UPDATE procrastinate_jobs
SET task_name = 'import.transfer_batch',
    args = jsonb_build_object('import_id', args -> 'import_id',
                              'file_ids', jsonb_build_array(args -> 'file_id'))
WHERE task_name = 'import.transfer_file' AND status = 'todo';

-- What requeue_failed_files queues: the failed files of the import as transfer batches of at
-- most `batch_files` files and about `batch_bytes` known bytes each (a batch closes once its
-- files reach that many bytes), the same shape the worker defers (TRANSFER_BATCH_FILES and
-- TRANSFER_BATCH_BYTES; these defaults are theirs).
DROP FUNCTION requeue_failed_files(uuid);

-- Every failed file of the import back to pending with a clean slate, queued again in transfer
-- batches, and the import running until they settle: what POST /imports/{id}/retry does.
-- Returns how many files were re-queued (0 when none had failed; the import is then unchanged).
-- Raises no_data_found (P0002) for an unknown import; object_not_in_prerequisite_state (55000)
-- for one that failed as a whole, is still queued or was cancelled; unique_violation (23505,
-- constraint imports_one_live_per_folder_idx) when another import of its folder is live.
-- Concurrent calls for one import run one after the other; each failed file is queued once.
CREATE FUNCTION requeue_failed_files(
    import_id uuid, batch_files integer DEFAULT 100, batch_bytes bigint DEFAULT 67108864
) RETURNS integer
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    current_status text;
    requeued integer;
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

    CREATE TEMPORARY TABLE requeued_files ON COMMIT DROP AS
    WITH requeued AS (
        UPDATE import_files
        SET state = 'pending', reason = NULL, attempts = 0, updated_at = now()
        WHERE import_id = requeue_failed_files.import_id AND state = 'failed'
        RETURNING source_file_id, coalesce(size, 0) AS size
    )
    SELECT source_file_id,
           -- Files in id order; a batch is a run of files with the same (count, bytes) bucket.
           (row_number() OVER w - 1) / greatest(batch_files, 1) AS by_count,
           floor((sum(size) OVER w - size) / greatest(batch_bytes, 1)) AS by_bytes
    FROM requeued
    WINDOW w AS (ORDER BY source_file_id);
    GET DIAGNOSTICS requeued = ROW_COUNT;
    IF requeued = 0 THEN
        DROP TABLE requeued_files;
        RETURN 0;
    END IF;

    BEGIN
        UPDATE imports
        SET failed = failed - requeued, status = 'running', finished_at = NULL
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
        SELECT ROW('transfers', 'import.transfer_batch', 0, NULL, NULL,
                   jsonb_build_object('import_id', requeue_failed_files.import_id::text,
                                      'file_ids', jsonb_agg(source_file_id
                                                            ORDER BY source_file_id)),
                   NULL)::procrastinate_job_to_defer_v1
        FROM requeued_files
        GROUP BY by_count, by_bytes
        ORDER BY by_count, by_bytes
    ));
    DROP TABLE requeued_files;
    RETURN requeued;
END;
$$;

-- Jobs being run: a listing job names its folder, a transfer batch its first file and how many
-- files it carries.
DROP VIEW running_jobs;
CREATE VIEW running_jobs AS
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
