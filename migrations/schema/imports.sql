-- The import lifecycle: an import's status and counters, its folders' listing and its files'
-- states, from `queued` to an end, and the operator views over them. Every change of an
-- import's status, counters or files' states is one of these functions; the API, the worker
-- and operators' SQL call them, and none of them writes a status or a counter itself.
--
--   queued ──import_start──▶ running ──(import_settled)──▶ completed | completed_with_errors
--   (import_take_turn: it waits    │  ▲                                     │
--    its turn in line, queued)     │  │                                     │
--     ├────────────────▶ failed ◀──import_fail                             │
--     │                        │  └───────────── requeue_failed_files ◀─────┘
--     └────────────────────────┴──cancel_import──▶ cancelled
--   a file: (import_add_files) pending ──import_settle_files──▶ imported | skipped | failed
--           (or unchanged | skipped at once)  ▲                                   │
--                                             └────── requeue_failed_files ◀──────┘
--
-- Jobs are not queued or cancelled here: that is Procrastinate's business, done through its
-- public Python API by the worker and the API (worker/jobs.py, api/jobs.py), never through its
-- SQL functions. A state change that needs jobs leaves a note for the worker
-- (import_requeues), which queues them; a cancelled import's queued jobs end without doing
-- anything (every job reads its import's status first).
--
-- migrate applies this file after every versioned migration, on every run: it holds the current
-- text of each function, trigger and view, idempotently. Tables, columns and data moves are
-- versioned migrations (migrations/versions/); so is dropping an object here or changing a
-- function's arguments or result or a view's existing columns, which CREATE OR REPLACE cannot.


-- The one spelling of "settled": the files of an import that reached a final state (failed ones
-- included, which a retry revisits), and whether the whole import has (every folder listed and
-- every file found settled). Read by the views, the completion rule and the API.
CREATE OR REPLACE FUNCTION import_settled_files(i imports) RETURNS integer
    LANGUAGE sql IMMUTABLE
AS $$
    SELECT i.imported + i.unchanged + i.skipped + i.failed;
$$;

-- An import's files the source refuses for now (its download quota): pending, tried again at
-- their next_try_at; the earliest of those times.
CREATE OR REPLACE FUNCTION import_quota_waits(i imports, OUT files integer, OUT next_try_at timestamptz)
    LANGUAGE sql STABLE
AS $$
    SELECT count(*)::integer, min(f.next_try_at)
    FROM import_files f
    WHERE f.import_id = i.id AND f.state = 'pending' AND f.quota_wait_since IS NOT NULL;
$$;

CREATE OR REPLACE FUNCTION import_settled(i imports) RETURNS boolean
    LANGUAGE sql IMMUTABLE
AS $$
    SELECT i.folders_pending = 0 AND i.discovered = import_settled_files(i);
$$;


-- A cancelled import changes no more. Jobs of it can still be running when it is cancelled (a
-- transfer mid-download, a listing page mid-request); whatever they would record afterwards is
-- refused, and the job's whole transaction rolls back with it. A transaction that records a
-- file or moves a count updates the imports row, and that row's lock orders it with the
-- cancellation: it commits wholly before it, or fails. The job's retry then finds the import
-- cancelled and stops. Nothing here takes a lock the worker did not take already.
CREATE OR REPLACE FUNCTION refuse_changes_to_cancelled_import() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'import % was cancelled: it changes no more', OLD.id
        USING ERRCODE = 'object_not_in_prerequisite_state';
END;
$$;

CREATE OR REPLACE TRIGGER imports_final_once_cancelled
    BEFORE UPDATE ON imports
    FOR EACH ROW WHEN (OLD.status = 'cancelled')
    EXECUTE FUNCTION refuse_changes_to_cancelled_import();

-- The same for an import's files and folders, for changes that start after the cancellation.
CREATE OR REPLACE FUNCTION refuse_changes_to_parts_of_cancelled_import() RETURNS trigger
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

CREATE OR REPLACE TRIGGER import_files_final_once_cancelled
    BEFORE INSERT OR UPDATE ON import_files
    FOR EACH ROW EXECUTE FUNCTION refuse_changes_to_parts_of_cancelled_import();
CREATE OR REPLACE TRIGGER import_folders_final_once_cancelled
    BEFORE INSERT OR UPDATE ON import_folders
    FOR EACH ROW EXECUTE FUNCTION refuse_changes_to_parts_of_cancelled_import();


CREATE OR REPLACE FUNCTION import_start(
    import_id uuid, notes text, root_folder_id text, root_resource_key text, folder_name text
) RETURNS boolean
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
    -- queued → running, with the root folder as the one pending listing and its name as the
    -- source gave it (NULL: none); false if another run of the start job got there first.
    UPDATE imports SET status = 'running', started_at = now(), folders_pending = 1,
                       notes = import_start.notes, folder_name = import_start.folder_name
    WHERE id = import_start.import_id AND status = 'queued';
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO import_folders (import_id, folder_id, resource_key)
    VALUES (import_start.import_id, root_folder_id, root_resource_key);
    RETURN true;
END;
$$;

-- The line of imports waiting to start: every queued import, oldest first. Past
-- MAX_ACTIVE_IMPORTS running, an import waits in it, queued, and starts when the running
-- imports leave a slot and those ahead of it have started; `waiting_since` says it waited. Its place
-- (1 = next) while it waits, NULL when it is not waiting: what the API shows.
CREATE OR REPLACE FUNCTION import_queue_position(i imports) RETURNS integer
    LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN i.status = 'queued' AND i.waiting_since IS NOT NULL THEN
        (SELECT count(*)::integer FROM imports ahead
         WHERE ahead.status = 'queued' AND (ahead.created_at, ahead.id) <= (i.created_at, i.id))
    END;
$$;

-- Whether a queued import's turn to start has come under `cap` running imports (0: no cap):
-- 'start' when it is first in line and a slot is free, 'waiting' otherwise (the import stays
-- queued, marked waiting: the start of the one ahead, or the end of a running one, queues its
-- start again), 'gone' when it is no longer queued (another run of its start job, a
-- cancellation). Every start takes the same transaction-level advisory lock first and, on
-- 'start', calls import_start in the same transaction: two starts never both see the last
-- free slot, and imports start one after the other, oldest first.
CREATE OR REPLACE FUNCTION import_take_turn(import_id uuid, cap integer) RETURNS text
    LANGUAGE plpgsql
AS $$
DECLARE
    me imports;
BEGIN
    PERFORM pg_advisory_xact_lock(7316283541);
    SELECT * INTO me FROM imports WHERE id = import_take_turn.import_id;
    IF NOT FOUND OR me.status <> 'queued' THEN
        RETURN 'gone';
    END IF;
    IF cap > 0
       AND (EXISTS (SELECT FROM imports ahead
                    WHERE ahead.status = 'queued'
                      AND (ahead.created_at, ahead.id) < (me.created_at, me.id))
            OR (SELECT count(*) FROM imports WHERE status = 'running') >= cap) THEN
        UPDATE imports SET waiting_since = coalesce(waiting_since, now())
        WHERE id = import_take_turn.import_id;
        RETURN 'waiting';
    END IF;
    RETURN 'start';
END;
$$;

-- The queued imports at the head of the line that have slots under `cap` (0: no cap, up to
-- `most`) and no job queued or running (a queued import's only job is its start): those that waited and whose turn has come, or
-- whose start job was lost. The worker queues their start jobs (it looks every few seconds,
-- and at once when an import starts or ends); each takes its turn under the lock above.
CREATE OR REPLACE FUNCTION imports_due_to_start(cap integer, most integer) RETURNS SETOF uuid
    LANGUAGE sql STABLE
AS $$
    SELECT head.id
    FROM (SELECT id, created_at FROM imports WHERE status = 'queued'
          ORDER BY created_at, id
          LIMIT CASE WHEN cap > 0
                     THEN least(most, greatest(cap - (SELECT count(*) FROM imports
                                                      WHERE status = 'running'), 0))
                     ELSE most END) head
    WHERE NOT EXISTS (SELECT FROM procrastinate_jobs j
                      WHERE j.status IN ('todo', 'doing')
                        AND j.args ->> 'import_id' = head.id::text)
    ORDER BY head.created_at, head.id;
$$;

-- queued | running → failed as a whole (the folder cannot be listed, a cap was reached).
CREATE OR REPLACE FUNCTION import_fail(import_id uuid, reason text) RETURNS boolean
    LANGUAGE sql
AS $$
    WITH failed AS (
        UPDATE imports SET status = 'failed', error = reason, finished_at = now()
        WHERE id = import_fail.import_id AND status IN ('queued', 'running')
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM failed);
$$;

-- running → completed | completed_with_errors once the import is settled; the status guard
-- makes it happen exactly once. Returns the new status then. The one place that completes an
-- import: the functions below that may settle the last file or folder end by calling it, and
-- it reads the row as it is now (in their transaction, after their own update of it).
CREATE OR REPLACE FUNCTION import_complete_if_settled(import_id uuid) RETURNS text
    LANGUAGE sql
AS $$
    UPDATE imports i
    SET status = CASE WHEN failed > 0 THEN 'completed_with_errors' ELSE 'completed' END,
        finished_at = now()
    WHERE id = import_complete_if_settled.import_id AND status = 'running' AND import_settled(i)
    RETURNING status;
$$;

-- Files a listed page found: recorded once each (a file seen before in this import is ignored),
-- settled at once as `skipped` when they carry a skip reason and as `unchanged` when the
-- catalogue holds the same bytes (same size, and a checksum the source vouches for equal to the
-- stored image's under the same algorithm, or else the source's own version of the file, an
-- ETag, equal to the one it declared for the stored image; the image then shows under this
-- import), `pending` otherwise. The import's counters move in the statement that locks its row,
-- so the totals returned include every page committed before this one. Returns the new files in
-- the order recorded (ids, states, sizes, skip reasons) and the import's `discovered` and
-- `bytes_discovered` (the known sizes of the files to transfer) afterwards; no row for an
-- unknown import. `folder_id`: the folder the page was listed from, whose album the images
-- stored from these files belong to (albums.sql).
CREATE OR REPLACE FUNCTION import_add_files(
    import_id uuid, source text, ids text[], names text[], mime_types text[], sizes bigint[],
    checksums jsonb[], resource_keys text[], reasons text[], versions text[], folder_id text
) RETURNS TABLE (new_ids text[], new_states text[], new_sizes bigint[], new_reasons text[],
                 discovered integer, bytes_discovered bigint)
    LANGUAGE sql
AS $$
WITH new AS (
    INSERT INTO import_files AS f (import_id, source_file_id, name, mime_type, size,
                                   checksums, resource_key, state, reason, source_version,
                                   folder_id)
    SELECT import_add_files.import_id, t.id, t.name, t.mime_type, t.size, t.checksums,
           t.resource_key,
           CASE WHEN t.reason IS NOT NULL THEN 'skipped'
                WHEN stored.id IS NOT NULL THEN 'unchanged'
                ELSE 'pending' END,
           t.reason, t.version, import_add_files.folder_id
    FROM unnest(ids, names, mime_types, sizes, checksums, resource_keys, reasons, versions)
         AS t(id, name, mime_type, size, checksums, resource_key, reason, version)
    LEFT JOIN images stored
           ON stored.source = import_add_files.source AND stored.source_file_id = t.id
          AND stored.size = t.size
          AND (EXISTS (SELECT FROM jsonb_each_text(t.checksums) AS listed(algorithm, hex)
                       WHERE stored.checksums ->> listed.algorithm = listed.hex)
               OR stored.source_version = t.version)
    ON CONFLICT (import_id, source_file_id) DO NOTHING
    RETURNING f.source_file_id, f.state, f.size, f.reason
),
listed AS (
    SELECT coalesce(array_agg(source_file_id), '{}') AS ids,
           coalesce(array_agg(state), '{}') AS states,
           coalesce(array_agg(size), '{}') AS sizes,
           coalesce(array_agg(reason), '{}') AS reasons,
           count(*) AS discovered,
           count(*) FILTER (WHERE state = 'skipped') AS skipped,
           count(*) FILTER (WHERE state = 'unchanged') AS unchanged,
           coalesce(sum(size) FILTER (WHERE state = 'pending'), 0) AS pending_bytes
    FROM new
),
-- The catalogue shows each image under the latest import that confirmed it.
confirmed AS (
    UPDATE images SET import_id = import_add_files.import_id
    WHERE images.source = import_add_files.source
      AND images.source_file_id IN (SELECT source_file_id FROM new WHERE state = 'unchanged')
)
UPDATE imports i
SET discovered = i.discovered + l.discovered,
    skipped = i.skipped + l.skipped,
    unchanged = i.unchanged + l.unchanged,
    bytes_discovered = i.bytes_discovered + l.pending_bytes
FROM listed l
WHERE i.id = import_add_files.import_id
RETURNING l.ids, l.states, l.sizes, l.reasons, i.discovered, i.bytes_discovered;
$$;

-- Subfolders a listed page found, to be listed in turn; a folder already reached in this import
-- (a second path to it, or a loop) is not listed again. Counted as pending listings in the same
-- statement. Returns the new folders' ids.
CREATE OR REPLACE FUNCTION import_add_folders(
    import_id uuid, folder_ids text[], resource_keys text[]
) RETURNS SETOF text
    LANGUAGE sql
AS $$
WITH new AS (
    INSERT INTO import_folders (import_id, folder_id, resource_key)
    SELECT import_add_folders.import_id, t.id, t.resource_key
    FROM unnest(folder_ids, resource_keys) AS t(id, resource_key)
    ON CONFLICT (import_id, folder_id) DO NOTHING
    RETURNING folder_id
),
counted AS (
    UPDATE imports SET folders_pending = folders_pending + (SELECT count(*) FROM new)
    WHERE id = import_add_folders.import_id AND EXISTS (SELECT FROM new)
)
SELECT folder_id FROM new;
$$;

-- A folder's last page is listed: one pending listing fewer and, when it was the last thing the
-- import waited for, its completion. Returns the import's status afterwards.
CREATE OR REPLACE FUNCTION import_finish_folder(import_id uuid) RETURNS text
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    current_status text;
BEGIN
    UPDATE imports SET folders_pending = folders_pending - 1
    WHERE id = import_finish_folder.import_id
    RETURNING status INTO current_status;
    RETURN coalesce(import_complete_if_settled(import_finish_folder.import_id), current_status);
END;
$$;

-- pending → imported | skipped | failed for a group of files: their rows, their images (with the
-- source's version of each file, as its listing declared it) and the import's counters in one
-- statement, and, when they were the last, its completion. The import row is written once per
-- group, not once per file; a file settled already is left as it is. Returns the import's
-- status afterwards, and the images stored that wait for derivatives (new bytes; the same bytes
-- keep the derivatives made of them).
CREATE OR REPLACE FUNCTION import_settle_files(
    import_id uuid, source text, ids text[], states text[], reasons text[], attempts int[],
    mime_types text[], sizes bigint[], checksums jsonb[], storage_keys text[],
    storage_paths text[]
) RETURNS TABLE (status text, to_derive text[])
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
    WITH outcome AS (
        SELECT *
        FROM unnest(ids, states, reasons, attempts, mime_types, sizes, checksums, storage_keys,
                    storage_paths)
             AS o(id, state, reason, attempts, mime_type, size, checksums, storage_key,
                  storage_path)
    ),
    settled AS (
        UPDATE import_files f
        SET state = o.state, reason = o.reason, attempts = o.attempts, updated_at = now(),
            quota_wait_since = NULL, next_try_at = NULL
        FROM outcome o
        WHERE f.import_id = import_settle_files.import_id AND f.source_file_id = o.id
          AND f.state = 'pending'
        RETURNING o.*, f.name, f.source_version
    ),
    stored AS (
        -- A new image points at its content as it is written (the caller recorded the content
        -- first: domain/contents/repository.py), so its row and indexes are written once; a
        -- known image changes content in point_images, which sees the one it leaves.
        INSERT INTO images (source, source_file_id, import_id, name, mime_type, size, checksums,
                            storage_key, storage_path, source_version, content_id)
        SELECT import_settle_files.source, id, import_settle_files.import_id, name, mime_type,
               size, checksums, storage_key, storage_path, source_version,
               checksums ->> 'sha256'
        FROM settled WHERE state = 'imported'
        ORDER BY id
        -- One row per source file: a repeated transfer updates it instead of adding another.
        ON CONFLICT (source, source_file_id) DO UPDATE SET
            import_id = EXCLUDED.import_id, name = EXCLUDED.name,
            mime_type = EXCLUDED.mime_type, size = EXCLUDED.size,
            checksums = EXCLUDED.checksums, source_version = EXCLUDED.source_version,
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
    UPDATE imports i
    SET imported = i.imported + t.imported,
        skipped = i.skipped + t.skipped,
        failed = i.failed + t.failed,
        bytes_imported = i.bytes_imported + t.bytes
    FROM tally t
    WHERE i.id = import_settle_files.import_id
    RETURNING i.status,
              (SELECT array_agg(id::text ORDER BY id) FROM stored
               WHERE derivative_state = 'pending')
    INTO status, to_derive;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- This transaction holds the import row now: the completion test reads it with every
    -- group settled before this one.
    status := coalesce(import_complete_if_settled(import_settle_files.import_id), status);
    RETURN NEXT;
END;
$$;

-- failed → pending for every failed file of an import, and the import running until they
-- settle: what POST /imports/{id}/retry does. The worker queues their transfers within seconds
-- (the API asks it to at once). Returns how many files were re-queued (0 when none had failed;
-- the import is then unchanged). Raises no_data_found (P0002) for an unknown import;
-- object_not_in_prerequisite_state (55000) for one that failed as a whole, is still queued or
-- was cancelled; unique_violation (23505, constraint imports_one_live_per_folder_idx) when
-- another import of its folder is live. Concurrent calls for one import run one after the
-- other; each failed file is re-queued once.
CREATE OR REPLACE FUNCTION requeue_failed_files(import_id uuid) RETURNS integer
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
-- Procrastinate); jobs already running record nothing more (the triggers above refuse it).
-- Returns how many of its jobs were still queued; an import that is no longer queued or
-- running is left alone and gives 0. Raises no_data_found (P0002) for an unknown import.
CREATE OR REPLACE FUNCTION cancel_import(import_id uuid) RETURNS integer
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


-- Operators: progress and throughput of every import. `settled` files reached a final state,
-- `pending` ones are found but not settled yet; `percent_done` is of the files found so far (a folder still being listed finds
-- more). Rates divide the settled files and the imported bytes by the time since the import
-- started. `removed`: the images a sync run found gone; `sync_id`: the sync it is a run of;
-- `queue_position`: its place in the line of imports waiting to start (1 = next), if it waits;
-- `waiting_for_quota`: files the source refuses for now, tried again from `quota_next_try_at`.
CREATE OR REPLACE VIEW import_progress AS
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
       i.error,
       i.removed,
       i.sync_id,
       t.settled,
       import_queue_position(i) AS queue_position,
       q.files AS waiting_for_quota,
       q.next_try_at AS quota_next_try_at
FROM imports i
CROSS JOIN LATERAL import_quota_waits(i) q
CROSS JOIN LATERAL (
    SELECT import_settled_files(i) AS settled,
           coalesce(i.finished_at, now()) - i.started_at AS elapsed,
           nullif(extract(epoch FROM coalesce(i.finished_at, now()) - i.started_at), 0) / 60
               AS minutes
) t;

-- Files that failed for good, by import and reason.
CREATE OR REPLACE VIEW import_failures_by_reason AS
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
CREATE OR REPLACE VIEW failures_by_reason AS
SELECT reason,
       sum(files)::bigint AS files,
       count(*) AS imports,
       max(last_failed_at) AS last_failed_at
FROM import_failures_by_reason
GROUP BY reason;

-- GET /images?q= ("the name contains", case-insensitively) without an extension: pg_trgm is not
-- in every PostgreSQL build (the embedded one of the tests and benchmarks has no contrib), so
-- the index is a GIN over an array of the name's lower-cased 1-, 2- and 3-character grams,
-- built from core functions. A name contains q only if its grams contain q's: q's trigrams,
-- or q itself when it is shorter than three characters; ILIKE then checks the match exactly.
CREATE OR REPLACE FUNCTION name_grams(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT coalesce(array_agg(DISTINCT substr(lower(name), i, n)), '{}')
    FROM generate_series(1, 3) AS n, generate_series(1, length(name) - n + 1) AS i
$$;

CREATE OR REPLACE FUNCTION name_query_grams(query text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE WHEN length(query) < 3 THEN ARRAY[lower(query)]
                ELSE (SELECT array_agg(DISTINCT substr(lower(query), i, 3))
                      FROM generate_series(1, length(query) - 2) AS i)
           END
$$;

-- Beside the function it is built from: the index means what name_grams says, and goes (with
-- DROP FUNCTION ... CASCADE) and comes back with it. On a deployment with many images, create
-- it beforehand with CREATE INDEX CONCURRENTLY and this same definition: this statement then
-- finds it and takes no lock (see README, "Scalability").
CREATE INDEX IF NOT EXISTS images_name_grams_idx ON images USING gin (name_grams(name));
