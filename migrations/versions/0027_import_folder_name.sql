-- An import is listed by its folder's name as the source gives it (Drive's folder `name`, a
-- Dropbox link's metadata `name`, a share's display name...), which the worker learns when it
-- checks the folder at the import's start (issue 25). NULL before the start, for imports of
-- earlier releases and for a source that gives no name: clients show the link instead.
ALTER TABLE imports ADD COLUMN folder_name text;

-- import_start records it: a new argument, which CREATE OR REPLACE cannot add.
DROP FUNCTION import_start(uuid, text, text, text);
