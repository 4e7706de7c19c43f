-- The sync lifecycle: a folder imported again on a schedule, each run an ordinary import that
-- moves only new and changed files and notes the images whose source file has gone.
--
-- Scheduling lives here, not in a cron outside the system: `sync_start_due_runs` (the worker's
-- `sync.start_due_runs` job, every few seconds) and `sync_start_run` (the API, for a new sync's
-- first run) lock each sync row they start with SKIP LOCKED, so two workers never start the
-- same run twice; and a run is an import, which the one-live-import-per-folder index already
-- keeps from overlapping the previous run (or any other import of the folder). Neither function
-- queues a job: the caller defers `import.start` for each import they return, in the same
-- transaction (Procrastinate's business, through its public Python API).
--
-- Applied by migrate on every run, after imports.sql (sync_overview reads its predicate).


-- Start a run of one locked sync: an import of its folder, unless the folder has a live import
-- (the previous run, or someone's import): then nothing starts and the sync stays due. Returns
-- the new import's id, or NULL.
CREATE OR REPLACE FUNCTION sync_start_locked(s syncs) RETURNS uuid
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
CREATE OR REPLACE FUNCTION sync_start_run(sync_id uuid) RETURNS uuid
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
CREATE OR REPLACE FUNCTION sync_start_due_runs(max_syncs integer DEFAULT 100)
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
CREATE OR REPLACE FUNCTION mark_images_removed_by_sync_run() RETURNS trigger
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

CREATE OR REPLACE TRIGGER imports_sync_run_marks_removed
    BEFORE UPDATE OF status ON imports
    FOR EACH ROW
    WHEN (NEW.sync_id IS NOT NULL AND OLD.status = 'running'
          AND NEW.status IN ('completed', 'completed_with_errors'))
    EXECUTE FUNCTION mark_images_removed_by_sync_run();

-- An image a later import lists again (unchanged or transferred anew: either moves its
-- import_id) is no longer removed, however that import came about.
CREATE OR REPLACE FUNCTION restore_image_listed_again() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.removed_at := NULL;
    NEW.removed_by_sync_id := NULL;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER images_listed_again_not_removed
    BEFORE UPDATE OF import_id ON images
    FOR EACH ROW
    WHEN (OLD.removed_at IS NOT NULL AND NEW.import_id IS DISTINCT FROM OLD.import_id)
    EXECUTE FUNCTION restore_image_listed_again();

-- An import of a synced folder, however it starts (the API, a sync's run, an operator's SQL),
-- holds the sync's row while it is inserted: a `FOR KEY SHARE` lock, the one a foreign key
-- takes. The worker's deletion of removed images holds the same row `FOR UPDATE` while it
-- deletes, so the two never interleave: an import inserted meanwhile waits for the deletion to
-- commit, and a deletion that starts later sees the live import and leaves the folder's images
-- alone. Without it, an image listed again by a fresh import could be deleted under it.
CREATE OR REPLACE FUNCTION imports_hold_folder_sync() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM 1 FROM syncs
    WHERE source = NEW.source AND folder_id = NEW.folder_id
    FOR KEY SHARE;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER imports_hold_folder_sync
    BEFORE INSERT ON imports
    FOR EACH ROW EXECUTE FUNCTION imports_hold_folder_sync();

-- Operators: every sync with its schedule and its last run (`last_settled`: the files of that
-- run that reached a final state, import_settled_files).
CREATE OR REPLACE VIEW sync_overview AS
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
       (SELECT count(*) FROM images im WHERE im.removed_by_sync_id = s.id) AS removed_images,
       import_settled_files(i) AS last_settled
FROM syncs s
LEFT JOIN imports i ON i.id = s.last_import_id;
