-- The import state machine, in one place: every change of an import's status and of its files'
-- states is one of these functions. The API, the worker and operators' SQL all call them; none
-- of them writes a status itself.
--
--   queued ──import_start──▶ running ──(last file settled)──▶ completed | completed_with_errors
--     │                        │  ▲                                         │
--     ├──import_refuse──▶ failed ◀──import_fail                             │
--     │                        │  └───────────── requeue_failed_files ◀─────┘
--     └────────────────────────┴──cancel_import──▶ cancelled
--   a file: pending ──import_settle_files──▶ imported | skipped | failed
--                     ▲                                          │
--                     └──────────── requeue_failed_files ◀───────┘
--
-- Jobs are not queued or cancelled here: that is Procrastinate's business, done through its
-- public Python API by the worker and the API (worker/jobs.py, api/jobs.py), never through its
-- internal SQL functions. A state change that needs jobs leaves a note for the worker
-- (import_requeues), which queues them; a cancelled import's queued jobs end without doing
-- anything (every job reads its import's status first).
-- depends: 0013_source_registry 0014_image_derivatives 0015_checksums

CREATE FUNCTION import_start(
    import_id uuid, notes text, root_folder_id text, root_resource_key text
) RETURNS boolean
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
    -- queued → running, with the root folder as the one pending listing; false if another
    -- run of the start job got there first.
    UPDATE imports SET status = 'running', started_at = now(), folders_pending = 1,
                       notes = import_start.notes
    WHERE id = import_start.import_id AND status = 'queued';
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO import_folders (import_id, folder_id, resource_key)
    VALUES (import_start.import_id, root_folder_id, root_resource_key);
    RETURN true;
END;
$$;

-- queued → failed, for an import that is not to start (a cap); false if it was not queued.
CREATE FUNCTION import_refuse(import_id uuid, reason text) RETURNS boolean
    LANGUAGE sql
AS $$
    WITH refused AS (
        UPDATE imports SET status = 'failed', error = reason, finished_at = now()
        WHERE id = import_refuse.import_id AND status = 'queued'
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM refused);
$$;

-- queued | running → failed as a whole (the folder cannot be listed, a cap was reached).
CREATE FUNCTION import_fail(import_id uuid, reason text) RETURNS boolean
    LANGUAGE sql
AS $$
    WITH failed AS (
        UPDATE imports SET status = 'failed', error = reason, finished_at = now()
        WHERE id = import_fail.import_id AND status IN ('queued', 'running')
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM failed);
$$;

-- running → completed | completed_with_errors once every folder is listed and every file
-- settled; the status guard makes it happen exactly once. Returns the new status then.
CREATE FUNCTION import_complete_if_settled(import_id uuid) RETURNS text
    LANGUAGE sql
AS $$
    UPDATE imports
    SET status = CASE WHEN failed > 0 THEN 'completed_with_errors' ELSE 'completed' END,
        finished_at = now()
    WHERE id = import_complete_if_settled.import_id AND status = 'running'
      AND folders_pending = 0 AND discovered = imported + unchanged + skipped + failed
    RETURNING status;
$$;

-- pending → imported | skipped | failed for a group of files, in one statement: their rows,
-- their images, the import's counters and, when they were the last, its completion. The import
-- row is written once per group, not once per file; a file settled already is left as it is.
-- Returns the import's status afterwards, and the images stored that wait for derivatives (new
-- bytes; the same bytes keep the derivatives made of them).
CREATE FUNCTION import_settle_files(
    import_id uuid, source text, ids text[], states text[], reasons text[], attempts int[],
    mime_types text[], sizes bigint[], checksums jsonb[], storage_keys text[],
    storage_paths text[]
) RETURNS TABLE (status text, to_derive text[])
    LANGUAGE sql
AS $$
WITH outcome AS (
    SELECT *
    FROM unnest(ids, states, reasons, attempts, mime_types, sizes, checksums, storage_keys,
                storage_paths)
         AS o(id, state, reason, attempts, mime_type, size, checksums, storage_key,
              storage_path)
),
settled AS (
    UPDATE import_files f
    SET state = o.state, reason = o.reason, attempts = o.attempts, updated_at = now()
    FROM outcome o
    WHERE f.import_id = import_settle_files.import_id AND f.source_file_id = o.id
      AND f.state = 'pending'
    RETURNING o.*, f.name
),
stored AS (
    INSERT INTO images (source, source_file_id, import_id, name, mime_type, size, checksums,
                        storage_key, storage_path)
    SELECT import_settle_files.source, id, import_settle_files.import_id, name, mime_type,
           size, checksums, storage_key, storage_path
    FROM settled WHERE state = 'imported'
    ORDER BY id
    -- One row per source file: a repeated transfer updates it instead of adding another.
    ON CONFLICT (source, source_file_id) DO UPDATE SET
        import_id = EXCLUDED.import_id, name = EXCLUDED.name,
        mime_type = EXCLUDED.mime_type, size = EXCLUDED.size,
        checksums = EXCLUDED.checksums,
        storage_key = EXCLUDED.storage_key, storage_path = EXCLUDED.storage_path,
        derivative_state = CASE WHEN images.checksums ->> 'md5'
                                         IS NOT DISTINCT FROM EXCLUDED.checksums ->> 'md5'
                                     AND images.size = EXCLUDED.size
                                     AND images.derivative_state IN ('done', 'not_possible')
                                THEN images.derivative_state ELSE 'pending' END,
        updated_at = now()
    RETURNING id, derivative_state
),
tally AS (
    SELECT count(*) FILTER (WHERE state = 'imported') AS imported,
           count(*) FILTER (WHERE state = 'skipped') AS skipped,
           count(*) FILTER (WHERE state = 'failed') AS failed,
           coalesce(sum(size) FILTER (WHERE state = 'imported'), 0) AS bytes
    FROM settled
)
-- The completion test reads the import row as this UPDATE finds it (the latest version, should
-- another group have settled meanwhile), never as it stood when the statement began.
UPDATE imports i
SET imported = i.imported + t.imported,
    skipped = i.skipped + t.skipped,
    failed = i.failed + t.failed,
    bytes_imported = i.bytes_imported + t.bytes,
    status = CASE WHEN i.status = 'running' AND i.folders_pending = 0
                       AND i.discovered = i.imported + t.imported + i.unchanged + i.skipped
                                          + t.skipped + i.failed + t.failed
                  THEN CASE WHEN i.failed + t.failed > 0 THEN 'completed_with_errors'
                            ELSE 'completed' END
                  ELSE i.status END,
    finished_at = CASE WHEN i.status = 'running' AND i.folders_pending = 0
                            AND i.discovered = i.imported + t.imported + i.unchanged + i.skipped
                                               + t.skipped + i.failed + t.failed
                       THEN now() ELSE i.finished_at END
FROM tally t
WHERE i.id = import_settle_files.import_id
RETURNING i.status,
          (SELECT array_agg(id::text ORDER BY id) FROM stored WHERE derivative_state = 'pending');
$$;

-- Files put back to pending that still need a transfer job: the worker's
-- `import.queue_requeued_files` job takes them from here and queues them in batches.
CREATE TABLE import_requeues (
    import_id      uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    source_file_id text NOT NULL,
    requested_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (import_id, source_file_id)
);

-- failed → pending for every failed file of an import, and the import running until they
-- settle: what POST /imports/{id}/retry does. The worker queues their transfers within seconds
-- (the API asks it to at once). Returns how many files were re-queued (0 when none had failed;
-- the import is then unchanged). Raises no_data_found (P0002) for an unknown import;
-- object_not_in_prerequisite_state (55000) for one that failed as a whole, is still queued or
-- was cancelled; unique_violation (23505, constraint imports_one_live_per_folder_idx) when
-- another import of its folder is live. Concurrent calls for one import run one after the
-- other; each failed file is re-queued once.
DROP FUNCTION requeue_failed_files(uuid, integer, bigint);
CREATE FUNCTION requeue_failed_files(import_id uuid) RETURNS integer
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

    WITH requeued AS (
        UPDATE import_files
        SET state = 'pending', reason = NULL, attempts = 0, updated_at = now()
        WHERE import_id = requeue_failed_files.import_id AND state = 'failed'
        RETURNING source_file_id
    )
    INSERT INTO import_requeues (import_id, source_file_id)
    SELECT requeue_failed_files.import_id, source_file_id FROM requeued
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS requeued = ROW_COUNT;
    IF requeued = 0 THEN
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
    -- Wakes a worker at once (it also looks every few seconds).
    PERFORM pg_notify('import_requeues', requeue_failed_files.import_id::text);
    RETURN requeued;
END;
$$;

-- queued | running → cancelled, finished now. What it imported stays. Its queued jobs end
-- without doing anything when a worker takes them (the API also cancels them through
-- Procrastinate); jobs already running record nothing more (the triggers of 0010 refuse it).
-- Returns how many of its jobs were still queued; an import that is no longer queued or
-- running is left alone and gives 0. Raises no_data_found (P0002) for an unknown import.
DROP FUNCTION cancel_import(uuid);
CREATE FUNCTION cancel_import(import_id uuid) RETURNS integer
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    current_status text;
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
    DELETE FROM import_requeues WHERE import_id = cancel_import.import_id;
    RETURN (SELECT count(*) FROM procrastinate_jobs
            WHERE status = 'todo' AND args ->> 'import_id' = cancel_import.import_id::text);
END;
$$;

-- Derivatives (thumbnails and facts) of stored images follow the same rule: this function only
-- marks images `requested`; the worker's `image.queue_requested_derivatives` job moves them to
-- `pending` and queues their jobs through Procrastinate, within seconds. Up to `max_images`
-- images that need derivatives and have no job doing them (stored before derivatives existed,
-- whose job gave up, or whose job belongs to a cancelled import, and so will do nothing), in id
-- order: run it again to go on where it stopped. Returns how many; 0 when none is left. What
-- `python -m worker.backfill` (make backfill-derivatives) runs.
ALTER TABLE images DROP CONSTRAINT images_derivative_state_check;
ALTER TABLE images ADD CONSTRAINT images_derivative_state_check
    CHECK (derivative_state IN ('missing', 'requested', 'pending', 'done', 'not_possible'));
CREATE INDEX images_derivatives_requested_idx ON images (id) WHERE derivative_state = 'requested';

CREATE OR REPLACE VIEW image_derivative_progress AS
SELECT i.id AS import_id,
       i.status AS import_status,
       count(im.id) FILTER (WHERE im.derivative_state = 'done') AS done,
       count(im.id) FILTER (WHERE im.derivative_state IN ('requested', 'pending')) AS pending,
       count(im.id) FILTER (WHERE im.derivative_state = 'not_possible') AS not_possible,
       count(im.id) FILTER (WHERE im.derivative_state = 'missing') AS missing
FROM imports i
LEFT JOIN images im ON im.import_id = i.id
GROUP BY i.id, i.status;

DROP FUNCTION queue_image_derivatives(integer, integer);
CREATE FUNCTION queue_image_derivatives(max_images integer DEFAULT 10000) RETURNS integer
    LANGUAGE sql
AS $$
    WITH live AS (
        SELECT DISTINCT image_id
        FROM procrastinate_jobs j, jsonb_array_elements_text(j.args -> 'image_ids') AS image_id
        -- Derivative jobs are the ones that carry image ids.
        WHERE j.args ? 'image_ids' AND j.status IN ('todo', 'doing')
          AND NOT EXISTS (SELECT 1 FROM imports i
                          WHERE i.id::text = j.args ->> 'import_id' AND i.status = 'cancelled')
    ),
    picked AS (
        SELECT im.id
        FROM images im
        WHERE im.derivative_state IN ('missing', 'pending')
          AND NOT EXISTS (SELECT 1 FROM live WHERE live.image_id = im.id::text)
        ORDER BY im.id
        LIMIT greatest(max_images, 0)
        FOR UPDATE SKIP LOCKED
    ),
    requested AS (
        UPDATE images im SET derivative_state = 'requested', derivative_reason = NULL
        FROM picked WHERE im.id = picked.id
        RETURNING 1
    )
    SELECT count(*)::integer FROM requested;
$$;
