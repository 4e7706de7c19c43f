-- Checksums in general: a file carries the checksums its source declares as {algorithm: hex}
-- (Drive's {"md5": ...}, Dropbox's {"dropbox_content_hash": ...}), and the catalogue keeps what
-- was checked of the stored bytes (always "md5", and every algorithm the source declared). A new
-- kind of checksum then needs a hasher in the worker, not a column here.
-- The existing md5_checksum and content_hash values move into `checksums`; nothing is lost.
-- images.md5_checksum stays, derived from `checksums`, for the API that shows it.
-- depends: 0012_transfer_batches

ALTER TABLE import_files ADD COLUMN checksums jsonb NOT NULL DEFAULT '{}';
UPDATE import_files
SET checksums = jsonb_strip_nulls(jsonb_build_object('md5', lower(md5_checksum),
                                                     'dropbox_content_hash', lower(content_hash)))
WHERE md5_checksum IS NOT NULL OR content_hash IS NOT NULL;
ALTER TABLE import_files DROP COLUMN md5_checksum, DROP COLUMN content_hash;

ALTER TABLE images ADD COLUMN checksums jsonb NOT NULL DEFAULT '{}';
UPDATE images
SET checksums = jsonb_strip_nulls(jsonb_build_object('md5', lower(md5_checksum),
                                                     'dropbox_content_hash', lower(content_hash)))
WHERE md5_checksum IS NOT NULL OR content_hash IS NOT NULL;
ALTER TABLE images DROP COLUMN md5_checksum, DROP COLUMN content_hash;
ALTER TABLE images ADD COLUMN md5_checksum text GENERATED ALWAYS AS (checksums ->> 'md5') STORED;
