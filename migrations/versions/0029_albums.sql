-- Albums: every source folder an import listed, once in the catalogue, whichever import brought
-- it (issue 25). Their functions and triggers are migrations/schema/albums.sql.
-- depends: 0028_archives

-- One row per source folder, identified as the source identifies it (`source_folder_id`, the
-- id its connector lists it by), so a folder renamed or moved at the source stays the same
-- album: its name, parent and path follow the next listing of it.
CREATE TABLE albums (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source           text NOT NULL REFERENCES sources (name),
    source_folder_id text NOT NULL,
    -- The folder's name at the source, as last listed.
    name             text NOT NULL,
    -- The folder it was last listed in; NULL for a folder only ever imported as a link's root.
    parent_id        uuid REFERENCES albums (id) ON DELETE SET NULL,
    -- The names from its topmost album down to it, joined by '/': kept current when an album
    -- or one of its ancestors is renamed or moved, so that lists sort by it and breadcrumbs
    -- need no walk up the tree.
    path             text NOT NULL,
    -- Images whose album this is, moved once per statement that changes images (a trigger on
    -- the images table), never once per image.
    image_count      integer NOT NULL DEFAULT 0 CHECK (image_count >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, source_folder_id),
    CHECK (parent_id <> id)
);
-- GET /albums, in path order, keyset on (path, id): all of them, one parent's, one source's.
CREATE INDEX albums_path_idx ON albums (path, id);
CREATE INDEX albums_parent_path_idx ON albums (parent_id, path, id);
CREATE INDEX albums_source_path_idx ON albums (source, path, id);

-- The folder a listed file was found in: the image stored from it belongs to that folder's
-- album. NULL on files listed before albums existed.
ALTER TABLE import_files ADD COLUMN folder_id text;

-- The album an image belongs to: its file's folder, as the import that last brought or
-- confirmed it listed it. NULL for images stored before albums existed, until their folder's
-- next import or sync run lists them again.
ALTER TABLE images ADD COLUMN album_id uuid REFERENCES albums (id) ON DELETE SET NULL;

-- import_add_files takes the folder the page was listed from (migrations/schema/imports.sql).
DROP FUNCTION IF EXISTS import_add_files(uuid, text, text[], text[], text[], bigint[], jsonb[],
                                         text[], text[], text[]);
