-- The album lifecycle: each source folder an import lists becomes an album of the catalogue
-- (one per source folder, whichever import brought it), and each image belongs to the album of
-- the folder its file was listed in.
--
--   import_start ──▶ album_record_root (the link's folder)
--   a listed page ──▶ album_record_subfolders (its subfolders, under the page's folder's album)
--   import_add_files records each file's folder (import_files.folder_id); an image stored or
--   confirmed from it takes that folder's album (image_album_from_listing), and the albums'
--   image counts move once per statement (album_count_images).
--   the album backfill (images stored before albums) lists their import again with the same
--   two functions, and its images take their folder's album (album_place_listed_images).
--
-- An album is the source's folder id: a folder renamed or moved at the source keeps its album,
-- whose name, parent and path (and its descendants' paths) follow the next listing of it.
-- Albums are never deleted here: a folder gone from the source leaves its album, emptied as
-- its images are deleted.
--
-- Applied by migrate on every run, after imports.sql (it reads import_files and images).


-- Every album below `root` (not itself), with the path it has under `root_path`, parents
-- before children. A guard on depth: albums form no loop (album_record_subfolders refuses
-- one), but a walk must end even if one were made by hand.
CREATE OR REPLACE FUNCTION album_descendant_paths(root uuid, root_path text)
    RETURNS TABLE (id uuid, path text)
    LANGUAGE sql STABLE
AS $$
    WITH RECURSIVE tree(id, path, depth) AS (
        SELECT c.id, root_path || '/' || c.name, 1
        FROM albums c WHERE c.parent_id = root
        UNION ALL
        SELECT c.id, t.path || '/' || c.name, t.depth + 1
        FROM albums c JOIN tree t ON c.parent_id = t.id
        WHERE t.depth < 1000
    )
    SELECT tree.id, tree.path FROM tree;
$$;

-- The album and every album below it: what GET /images?album_id=&include_subalbums=true reads.
CREATE OR REPLACE FUNCTION album_subtree(album_id uuid) RETURNS uuid[]
    LANGUAGE sql STABLE
AS $$
    SELECT album_id || coalesce(array_agg(d.id), '{}')
    FROM album_descendant_paths(album_id, '') d;
$$;

-- Whether `ancestor` is `album` or above it: moving `ancestor` under `album` would make a loop
-- (a Drive shortcut to a folder inside one of its own subfolders).
CREATE OR REPLACE FUNCTION album_is_within(album uuid, ancestor uuid) RETURNS boolean
    LANGUAGE sql STABLE
AS $$
    WITH RECURSIVE up(id, depth) AS (
        SELECT album, 0
        UNION ALL
        SELECT a.parent_id, up.depth + 1
        FROM albums a JOIN up ON a.id = up.id
        WHERE a.parent_id IS NOT NULL AND up.depth < 1000
    )
    SELECT EXISTS (SELECT FROM up WHERE up.id = ancestor);
$$;

-- Give an album its name, parent and path, and its descendants the paths that follow from it;
-- only what differs is written.
CREATE OR REPLACE FUNCTION album_place(album uuid, new_name text, new_parent uuid, new_path text)
    RETURNS void
    LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE albums
    SET name = new_name, parent_id = new_parent, path = new_path, updated_at = now()
    WHERE id = album
      AND (name, parent_id, path) IS DISTINCT FROM (new_name, new_parent, new_path);
    IF FOUND THEN
        UPDATE albums a SET path = d.path, updated_at = now()
        FROM album_descendant_paths(album, new_path) d
        WHERE a.id = d.id AND a.path <> d.path;
    END IF;
END;
$$;

-- An import's root folder, when the import starts: its album, made at the top (no parent) when
-- new. A known album keeps its place (an import of a subfolder of a folder imported before
-- leaves it inside that folder's album) and takes the folder's name when the source gave one
-- (`folder_name` NULL: it gave none). Returns the album's id.
CREATE OR REPLACE FUNCTION album_record_root(source text, folder_id text, folder_name text)
    RETURNS uuid
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    known albums;
    parent_path text;
    album uuid;
    fallback text;
BEGIN
    -- Without a name from the source: the last part of its id (a Dropbox or WebDAV path, an
    -- S3 prefix), or the id.
    fallback := coalesce(nullif(regexp_replace(rtrim(album_record_root.folder_id, '/'), '^.*/', ''),
                                ''),
                         album_record_root.folder_id);
    INSERT INTO albums (source, source_folder_id, name, path)
    VALUES (album_record_root.source, album_record_root.folder_id,
            coalesce(folder_name, fallback), coalesce(folder_name, fallback))
    ON CONFLICT (source, source_folder_id) DO NOTHING
    RETURNING id INTO album;
    IF album IS NOT NULL THEN
        RETURN album;
    END IF;
    SELECT * INTO known FROM albums
    WHERE source = album_record_root.source AND source_folder_id = album_record_root.folder_id;
    IF folder_name IS NOT NULL AND folder_name <> known.name THEN
        SELECT path INTO parent_path FROM albums WHERE id = known.parent_id;
        PERFORM album_place(known.id, folder_name, known.parent_id,
                            coalesce(parent_path || '/', '') || folder_name);
    END IF;
    RETURN known.id;
END;
$$;

-- The subfolders a listed page of `parent_folder_id` found (`names`: their names at the source,
-- NULL where the source gave none): each one's album, made below the page's folder's album when
-- new; a known one renamed or moved here follows (its descendants' paths with it), unless the
-- move would put it inside itself. Nothing when the page's folder has no album (an import that
-- started before albums existed).
CREATE OR REPLACE FUNCTION album_record_subfolders(
    source text, parent_folder_id text, folder_ids text[], names text[]
) RETURNS void
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    parent albums;
    folder record;
    known albums;
BEGIN
    SELECT * INTO parent FROM albums
    WHERE source = album_record_subfolders.source
      AND source_folder_id = album_record_subfolders.parent_folder_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- In id order: two listings touching the same albums lock them in the same order.
    FOR folder IN
        SELECT t.id, coalesce(t.name, t.id) AS name
        FROM unnest(folder_ids, names) AS t(id, name)
        ORDER BY t.id
    LOOP
        SELECT * INTO known FROM albums
        WHERE source = album_record_subfolders.source AND source_folder_id = folder.id;
        IF NOT FOUND THEN
            INSERT INTO albums (source, source_folder_id, name, parent_id, path)
            VALUES (album_record_subfolders.source, folder.id, folder.name, parent.id,
                    parent.path || '/' || folder.name)
            ON CONFLICT (source, source_folder_id) DO NOTHING;
        ELSIF album_is_within(parent.id, known.id) THEN
            -- A folder listed inside its own subtree (a shortcut loop): it stays where it is.
            CONTINUE;
        ELSE
            PERFORM album_place(known.id, folder.name, parent.id,
                                parent.path || '/' || folder.name);
        END IF;
    END LOOP;
END;
$$;

-- Images stored before albums existed, found again by the album backfill's listing of their
-- import (worker/albums/backfill.py) in the folder `folder_id`: those of `file_ids` that have
-- no album take that folder's album, as image_album_from_listing gives a new import's images
-- theirs; one statement, so the albums' counts move once (album_count_images). An image that
-- has an album keeps it: an import that stored or confirmed it since knows better. Its rows
-- are locked in id order, as the settling of files locks them. Returns how many took one.
CREATE OR REPLACE FUNCTION album_place_listed_images(source text, folder_id text, file_ids text[])
    RETURNS integer
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    album uuid;
    placed integer;
BEGIN
    SELECT id INTO album FROM albums
    WHERE source = album_place_listed_images.source
      AND source_folder_id = album_place_listed_images.folder_id;
    IF album IS NULL THEN
        RETURN 0;
    END IF;
    WITH unplaced AS (
        SELECT id FROM images
        WHERE source = album_place_listed_images.source
          AND source_file_id = ANY (file_ids)
          AND album_id IS NULL
        ORDER BY id
        FOR UPDATE
    )
    UPDATE images SET album_id = album
    FROM unplaced
    WHERE images.id = unplaced.id AND images.album_id IS NULL;
    GET DIAGNOSTICS placed = ROW_COUNT;
    RETURN placed;
END;
$$;

-- An image stored or confirmed by an import (inserted, or its import_id set) belongs to the
-- album of the folder that import listed its file in. An image whose file the import did not
-- record a folder for (an import from before albums) keeps the album it had.
CREATE OR REPLACE FUNCTION image_album_from_listing() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    listed_in uuid;
BEGIN
    SELECT a.id INTO listed_in
    FROM import_files f
    JOIN albums a ON a.source = NEW.source AND a.source_folder_id = f.folder_id
    WHERE f.import_id = NEW.import_id AND f.source_file_id = NEW.source_file_id;
    IF listed_in IS NOT NULL THEN
        -- A file that kept its id but is listed in another folder now was moved at the source:
        -- its image follows in place (no byte moves), the move noted in its history.
        IF TG_OP = 'UPDATE' AND OLD.album_id IS NOT NULL AND OLD.album_id <> listed_in THEN
            NEW.history := NEW.history || jsonb_build_array(jsonb_build_object(
                'moved_from', (SELECT path FROM albums WHERE id = OLD.album_id),
                'moved_to', (SELECT path FROM albums WHERE id = listed_in),
                'at', now(), 'import_id', NEW.import_id::text));
        END IF;
        NEW.album_id := listed_in;
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER images_album_from_listing
    BEFORE INSERT OR UPDATE OF import_id ON images
    FOR EACH ROW EXECUTE FUNCTION image_album_from_listing();

-- Albums' image counts, moved once per statement on images: each album's count by the
-- statement's net change to it, its rows locked in id order (two statements settling files of
-- the same albums never wait for each other in a circle).
CREATE OR REPLACE FUNCTION album_count_images() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    changes jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT jsonb_object_agg(album_id, n) INTO changes
        FROM (SELECT album_id, count(*) AS n FROM added
              WHERE album_id IS NOT NULL GROUP BY album_id) c;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT jsonb_object_agg(album_id, -n) INTO changes
        FROM (SELECT album_id, count(*) AS n FROM gone
              WHERE album_id IS NOT NULL GROUP BY album_id) c;
    ELSE
        SELECT jsonb_object_agg(album_id, n) INTO changes
        FROM (SELECT album_id, sum(n) AS n
              FROM (SELECT new_rows.album_id, 1 AS n
                    FROM new_rows JOIN old_rows ON old_rows.id = new_rows.id
                    WHERE new_rows.album_id IS DISTINCT FROM old_rows.album_id
                      AND new_rows.album_id IS NOT NULL
                    UNION ALL
                    SELECT old_rows.album_id, -1
                    FROM new_rows JOIN old_rows ON old_rows.id = new_rows.id
                    WHERE new_rows.album_id IS DISTINCT FROM old_rows.album_id
                      AND old_rows.album_id IS NOT NULL) moves
              GROUP BY album_id HAVING sum(n) <> 0) c;
    END IF;
    IF changes IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM albums
    WHERE id IN (SELECT key::uuid FROM jsonb_each_text(changes))
    ORDER BY id
    FOR UPDATE;
    UPDATE albums a
    SET image_count = a.image_count + c.value::integer
    FROM jsonb_each_text(changes) c
    WHERE a.id = c.key::uuid;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER images_counted_in_albums_on_insert
    AFTER INSERT ON images
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION album_count_images();
CREATE OR REPLACE TRIGGER images_counted_in_albums_on_update
    AFTER UPDATE ON images
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION album_count_images();
CREATE OR REPLACE TRIGGER images_counted_in_albums_on_delete
    AFTER DELETE ON images
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION album_count_images();
