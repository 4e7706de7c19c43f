-- transactional: false
-- GET /images at a million rows: every filter and sort served by an index (issue 22).
--
-- CONCURRENTLY, so that a deployment with many images keeps importing while they are built
-- (a plain CREATE INDEX blocks every write to images for the whole build); it cannot run in a
-- transaction, hence `transactional: false` above: each statement commits on its own. A build
-- that fails leaves an INVALID index of that name behind, which IF NOT EXISTS would keep: the
-- DROP before each CREATE removes such a leftover when this version runs again (a valid index
-- is dropped and rebuilt too, only on that rerun, the version being recorded once it succeeds).

-- sort=taken_at within one import (the gallery's view of an import), keyset on (key, id) like
-- images_taken_newest_idx; the taken_after/taken_before conditions use the same key.
DROP INDEX CONCURRENTLY IF EXISTS images_import_taken_idx;
CREATE INDEX CONCURRENTLY images_import_taken_idx
    ON images (import_id, (coalesce(taken_at, '0001-01-01 00:00:00'::timestamp)) DESC, id DESC);

-- min_width, min_height: a rare size is found without reading the others.
DROP INDEX CONCURRENTLY IF EXISTS images_width_idx;
CREATE INDEX CONCURRENTLY images_width_idx ON images (width);
DROP INDEX CONCURRENTLY IF EXISTS images_height_idx;
CREATE INDEX CONCURRENTLY images_height_idx ON images (height);

-- q= is served by images_name_grams_idx (migrations/schema/imports.sql), on every build of
-- PostgreSQL; the pg_trgm index 0003 made where the extension was available would only cost
-- writes now.
DROP INDEX CONCURRENTLY IF EXISTS images_name_trgm_idx;
