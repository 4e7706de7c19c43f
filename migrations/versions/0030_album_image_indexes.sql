-- transactional: false
-- An album's images at a million rows (issue 25): a page of an album of 100,000 images read
-- from an index in its order, not sorted out of all of them.
--
-- CONCURRENTLY, as in 0022: imports keep storing images while they are built.
-- depends: 0029_albums

-- GET /albums/{id}: an album's images by name, as a file manager shows a folder; keyset on
-- (name, id).
DROP INDEX CONCURRENTLY IF EXISTS images_album_name_idx;
CREATE INDEX CONCURRENTLY images_album_name_idx ON images (album_id, name, id)
    WHERE album_id IS NOT NULL;

-- An album's cover, its first image by name that has a thumbnail: one step into this index,
-- however many of its images have none yet (an import still making them, or files no
-- thumbnail can be made of).
DROP INDEX CONCURRENTLY IF EXISTS images_album_cover_idx;
CREATE INDEX CONCURRENTLY images_album_cover_idx ON images (album_id, name, id)
    WHERE album_id IS NOT NULL AND thumbnail_key IS NOT NULL;

-- GET /images?album_id=: newest first within the album, keyset on (created_at, id).
DROP INDEX CONCURRENTLY IF EXISTS images_album_newest_idx;
CREATE INDEX CONCURRENTLY images_album_newest_idx ON images (album_id, created_at DESC, id DESC)
    WHERE album_id IS NOT NULL;
