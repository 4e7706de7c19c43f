-- Sources as the registry declares them, an import's typed locator, and its link password kept
-- once, on the import.
-- depends: 0012_transfer_batches

-- The sources imports and images may name. The API registers each source of its registry here
-- (worker/sources/registry.py) before it records an import of it, so this list, not a CHECK
-- written in a migration, decides which values `source` takes.
CREATE TABLE sources (
    name          text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    display_name  text NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO sources (name, display_name) VALUES ('google_drive', 'Google Drive'), ('dropbox', 'Dropbox');

ALTER TABLE imports DROP CONSTRAINT imports_source_check;
ALTER TABLE imports ADD CONSTRAINT imports_source_fkey FOREIGN KEY (source) REFERENCES sources (name);
ALTER TABLE images ADD CONSTRAINT images_source_fkey FOREIGN KEY (source) REFERENCES sources (name);

-- Where the folder is, as its source's link parser gave it ({"folder_id", "resource_key"} for
-- Drive, {"folder_id", "url"} for Dropbox), and the password of a protected link. resource_key
-- used to hold either, and a Dropbox link's password was copied into every folder and file row.
ALTER TABLE imports ADD COLUMN locator jsonb, ADD COLUMN link_password text;

UPDATE imports
SET locator = jsonb_build_object('folder_id', folder_id, 'resource_key', resource_key)
WHERE source = 'google_drive';

UPDATE imports
SET locator = jsonb_build_object(
        'folder_id', folder_id,
        'url', CASE WHEN resource_key LIKE '{%' THEN resource_key::jsonb ->> 'url' ELSE resource_key END),
    link_password = CASE WHEN resource_key LIKE '{%' THEN resource_key::jsonb ->> 'password' END
WHERE source = 'dropbox';

ALTER TABLE imports ALTER COLUMN locator SET NOT NULL, DROP COLUMN resource_key;

-- A Dropbox folder's or file's own note keeps only what is its own (its path, the zip snapshot
-- it was listed from): the link and its password are the import's.
UPDATE import_folders f
SET resource_key = nullif((f.resource_key::jsonb - 'url' - 'password')::text, '{}')
FROM imports i
WHERE i.id = f.import_id AND i.source = 'dropbox' AND f.resource_key LIKE '{%';

UPDATE import_folders f
SET resource_key = NULL
FROM imports i
WHERE i.id = f.import_id AND i.source = 'dropbox' AND f.resource_key LIKE 'https://%';

UPDATE import_files f
SET resource_key = nullif((f.resource_key::jsonb - 'url' - 'password')::text, '{}')
FROM imports i
WHERE i.id = f.import_id AND i.source = 'dropbox' AND f.resource_key LIKE '{%';

UPDATE import_files f
SET resource_key = NULL
FROM imports i
WHERE i.id = f.import_id AND i.source = 'dropbox' AND f.resource_key LIKE 'https://%';
