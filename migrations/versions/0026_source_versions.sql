-- A source's own version of a file (an ETag, a Dropbox rev), as its listing declares it: kept
-- on the listed file and on the image stored from it, so that the next listing finds a file
-- unchanged by its size and version when no listed checksum vouches for its bytes (a Nextcloud
-- file without oc:checksums, an S3 object uploaded in parts). Never a checksum: nothing checks
-- the bytes against it. import_add_files takes the versions as a new argument: its old
-- signature goes (if this database has it: the function was only ever defined in
-- migrations/schema/, which is applied after the versions), and migrations/schema/imports.sql
-- creates the new one.
-- depends: 0025_job_import_index

ALTER TABLE import_files ADD COLUMN source_version text;
ALTER TABLE images ADD COLUMN source_version text;

DROP FUNCTION IF EXISTS import_add_files(uuid, text, text[], text[], text[], bigint[], jsonb[],
                                         text[], text[]);
