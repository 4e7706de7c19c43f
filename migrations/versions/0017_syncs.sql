-- Syncs: a folder imported again on a schedule, each run an ordinary import that moves only new
-- and changed files, and notes the images whose source file has gone.
--
-- Scheduling lives here, not in a cron outside the system: `sync_start_due_runs` (the worker's
-- `sync.start_due_runs` job, every few seconds) and `sync_start_run` (the API, for a new sync's
-- first run) lock each sync row they start with SKIP LOCKED, so two workers never start the
-- same run twice; and a run is an import, which the one-live-import-per-folder index already
-- keeps from overlapping the previous run (or any other import of the folder). Neither function
-- queues a job: the caller defers `import.start` for each import they return, in the same
-- transaction (Procrastinate's business, through its public Python API).
-- depends: 0016_import_states

CREATE TABLE syncs (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source         text NOT NULL REFERENCES sources (name),
    source_url     text NOT NULL,
    folder_id      text NOT NULL,
    locator        jsonb NOT NULL,
    link_password  text,
    recursive      boolean NOT NULL DEFAULT true,
    every          interval NOT NULL CHECK (every > interval '0'),
    -- What becomes of an image whose source file is gone: `keep` marks it removed; `delete`
    -- also deletes its objects and its row (the worker's `sync.delete_removed_images`).
    on_removed     text NOT NULL DEFAULT 'keep' CHECK (on_removed IN ('keep', 'delete')),
    -- Copied onto each run's import, which notifies it when it ends.
    notify_url     text,
    paused_at      timestamptz,
    -- When the next run is due; a run starts no earlier, and only once the previous one ended.
    next_run_at    timestamptz NOT NULL DEFAULT now(),
    last_run_at    timestamptz,
    last_import_id uuid REFERENCES imports (id) ON DELETE SET NULL,
    runs           integer NOT NULL DEFAULT 0,
    -- Why the last due run did not start (the folder had another live import), until one does.
    last_skip      text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    -- One sync per folder: change it with PATCH rather than scheduling the folder twice.
    UNIQUE (source, folder_id)
);
CREATE INDEX syncs_due_idx ON syncs (next_run_at) WHERE paused_at IS NULL;
CREATE INDEX syncs_newest_idx ON syncs (created_at DESC, id DESC);

ALTER TABLE imports
    ADD COLUMN sync_id    uuid REFERENCES syncs (id) ON DELETE SET NULL,
    ADD COLUMN notify_url text,
    -- Images of earlier imports of the folder that this one found gone from the source.
    ADD COLUMN removed    integer NOT NULL DEFAULT 0;
CREATE INDEX imports_sync_idx ON imports (sync_id, created_at DESC) WHERE sync_id IS NOT NULL;
CREATE INDEX imports_folder_idx ON imports (source, folder_id);

-- removed_at: when a sync run found the image's source file gone (deleted, trashed, unshared).
-- removed_by_sync_id: that sync, whose `on_removed` decides whether the image is deleted.
ALTER TABLE images
    ADD COLUMN removed_at         timestamptz,
    ADD COLUMN removed_by_sync_id uuid REFERENCES syncs (id) ON DELETE SET NULL;
CREATE INDEX images_removed_idx ON images (removed_by_sync_id, id) WHERE removed_at IS NOT NULL;

-- Start a run of one locked sync: an import of its folder, unless the folder has a live import
-- (the previous run, or someone's import): then nothing starts and the sync stays due. Returns
-- the new import's id, or NULL.
CREATE FUNCTION sync_start_locked(s syncs) RETURNS uuid
    LANGUAGE plpgsql
AS $$
DECLARE
    new_import uuid;
BEGIN
    INSERT INTO imports (source, source_url, folder_id, locator, link_password, recursive,
                         sync_id, notify_url)
    VALUES (s.source, s.source_url, s.folder_id, s.locator, s.link_password, s.recursive,
            s.id, s.notify_url)
    ON CONFLICT (source, folder_id) WHERE status IN ('queued', 'running') DO NOTHING
    RETURNING id INTO new_import;
    IF new_import IS NULL THEN
        UPDATE syncs
        SET last_skip = 'not started at ' || now()::text
                        || ': the folder has an import queued or running; it starts when that ends'
        WHERE id = s.id;
        RETURN NULL;
    END IF;
    UPDATE syncs
    SET last_import_id = new_import, last_run_at = now(), runs = runs + 1, last_skip = NULL,
        next_run_at = now() + every
    WHERE id = s.id;
    RETURN new_import;
END;
$$;

-- A run of this sync now, whatever its schedule (its first run, when it is created). NULL when
-- it is paused, locked by a concurrent start, or its folder has a live import.
CREATE FUNCTION sync_start_run(sync_id uuid) RETURNS uuid
    LANGUAGE plpgsql
AS $$
DECLARE
    s syncs;
BEGIN
    SELECT * INTO s FROM syncs
    WHERE id = sync_start_run.sync_id AND paused_at IS NULL
    FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN sync_start_locked(s);
END;
$$;

-- The runs due now, up to `max_syncs`, oldest due first: the imports started, with their syncs.
CREATE FUNCTION sync_start_due_runs(max_syncs integer DEFAULT 100)
    RETURNS TABLE (sync_id uuid, import_id uuid)
    LANGUAGE plpgsql
AS $$
DECLARE
    s syncs;
    started uuid;
BEGIN
    FOR s IN
        SELECT * FROM syncs
        WHERE paused_at IS NULL AND next_run_at <= now()
        ORDER BY next_run_at
        LIMIT greatest(max_syncs, 0)
        FOR UPDATE SKIP LOCKED
    LOOP
        started := sync_start_locked(s);
        IF started IS NOT NULL THEN
            sync_id := s.id;
            import_id := started;
            RETURN NEXT;
        END IF;
    END LOOP;
END;
$$;

-- When an import of a synced folder completes (every folder listed, every file settled), the
-- images earlier imports of the folder brought that it did not list are gone from the source:
-- they are marked removed, and counted on the import. Earlier imports means the sync's runs and
-- any import of the same folder that covered no more than this one (a recursive import's
-- subfolders are not a flat run's business). A failed or cancelled run marks nothing: its
-- listing may be incomplete.
CREATE FUNCTION mark_images_removed_by_sync_run() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    gone integer;
BEGIN
    WITH marked AS (
        UPDATE images im
        SET removed_at = now(), removed_by_sync_id = NEW.sync_id
        FROM imports earlier
        WHERE im.import_id = earlier.id AND im.removed_at IS NULL
          AND earlier.id <> NEW.id
          AND (earlier.sync_id = NEW.sync_id
               OR (earlier.source = NEW.source AND earlier.folder_id = NEW.folder_id
                   AND (NEW.recursive OR NOT earlier.recursive)))
          AND NOT EXISTS (SELECT 1 FROM import_files f
                          WHERE f.import_id = NEW.id AND f.source_file_id = im.source_file_id)
        RETURNING 1
    )
    SELECT count(*) INTO gone FROM marked;
    NEW.removed := NEW.removed + gone;
    RETURN NEW;
END;
$$;

CREATE TRIGGER imports_sync_run_marks_removed
    BEFORE UPDATE OF status ON imports
    FOR EACH ROW
    WHEN (NEW.sync_id IS NOT NULL AND OLD.status = 'running'
          AND NEW.status IN ('completed', 'completed_with_errors'))
    EXECUTE FUNCTION mark_images_removed_by_sync_run();

-- An image a later import lists again (unchanged or transferred anew: either moves its
-- import_id) is no longer removed, however that import came about.
CREATE FUNCTION restore_image_listed_again() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.removed_at := NULL;
    NEW.removed_by_sync_id := NULL;
    RETURN NEW;
END;
$$;

CREATE TRIGGER images_listed_again_not_removed
    BEFORE UPDATE OF import_id ON images
    FOR EACH ROW
    WHEN (OLD.removed_at IS NOT NULL AND NEW.import_id IS DISTINCT FROM OLD.import_id)
    EXECUTE FUNCTION restore_image_listed_again();

-- Operators' progress view, with the images each sync run found gone and the sync it belongs to
-- (CREATE OR REPLACE may only add columns at the end).
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
       i.sync_id
FROM imports i
CROSS JOIN LATERAL (
    SELECT i.imported + i.unchanged + i.skipped + i.failed AS settled,
           coalesce(i.finished_at, now()) - i.started_at AS elapsed,
           nullif(extract(epoch FROM coalesce(i.finished_at, now()) - i.started_at), 0) / 60
               AS minutes
) t;

-- Operators: every sync with its schedule and its last run.
CREATE VIEW sync_overview AS
SELECT s.id AS sync_id,
       s.source,
       s.folder_id,
       s.every,
       s.on_removed,
       s.paused_at IS NOT NULL AS paused,
       CASE WHEN s.paused_at IS NULL THEN s.next_run_at END AS next_run_at,
       s.runs,
       s.last_run_at,
       s.last_skip,
       i.id AS last_import_id,
       i.status AS last_status,
       i.discovered AS last_discovered,
       i.imported AS last_imported,
       i.unchanged AS last_unchanged,
       i.failed AS last_failed,
       i.removed AS last_removed,
       i.finished_at AS last_finished_at,
       (SELECT count(*) FROM images im WHERE im.removed_by_sync_id = s.id) AS removed_images
FROM syncs s
LEFT JOIN imports i ON i.id = s.last_import_id;
