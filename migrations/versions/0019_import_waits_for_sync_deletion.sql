-- An import of a synced folder, however it starts (the API, a sync's run, an operator's SQL),
-- holds the sync's row while it is inserted: a `FOR KEY SHARE` lock, the one a foreign key
-- takes. The worker's deletion of removed images holds the same row `FOR UPDATE` while it
-- deletes, so the two never interleave: an import inserted meanwhile waits for the deletion to
-- commit, and a deletion that starts later sees the live import and leaves the folder's images
-- alone. Without it, an image listed again by a fresh import could be deleted under it.
-- depends: 0018_webhooks

CREATE FUNCTION imports_hold_folder_sync() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM 1 FROM syncs
    WHERE source = NEW.source AND folder_id = NEW.folder_id
    FOR KEY SHARE;
    RETURN NEW;
END;
$$;

CREATE TRIGGER imports_hold_folder_sync
    BEFORE INSERT ON imports
    FOR EACH ROW EXECUTE FUNCTION imports_hold_folder_sync();
