-- The bytes an import has found to transfer, for its MAX_IMPORT_BYTES cap: the announced sizes
-- of the images it listed as pending (a source that gives no sizes adds nothing). Moved with
-- `discovered` in the listing transaction that records the files, under the import row's lock,
-- so concurrent pages of one import never both slip under the cap.
-- depends: 0010_operator_views

ALTER TABLE imports ADD COLUMN bytes_discovered bigint NOT NULL DEFAULT 0;
