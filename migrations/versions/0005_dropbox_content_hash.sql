-- Dropbox gives no MD5: it checks a file with its content_hash (SHA-256 over 4 MiB blocks). Kept
-- beside md5_checksum on the files an import listed and on the catalogue, so a Dropbox transfer is
-- verified against it and a re-import finds an unchanged file without moving its bytes.
-- depends: 0004_source_pacing

ALTER TABLE import_files ADD COLUMN content_hash text;
ALTER TABLE images ADD COLUMN content_hash text;
