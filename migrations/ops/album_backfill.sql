-- How far the album backfill is (images stored before albums get their folder's album, see
-- README "Albums"): each import it listed or is listing, newest first, with the images it
-- placed, its folders listed and left, why it could not list one, and the import's images
-- still without an album (an image its listing did not find any more keeps none).
--   psql "$DATABASE_URL" -f migrations/ops/album_backfill.sql
--   psql "$DATABASE_URL" -v limit=100 -f migrations/ops/album_backfill.sql
\set ON_ERROR_STOP on
\if :{?limit}
\else
\set limit 50
\endif
SELECT b.import_id, i.source, i.folder_id, i.folder_name, b.started_at, b.finished_at,
       b.images_placed,
       f.listed AS folders_listed, f.left_to_list AS folders_left, f.unlisted AS folders_unlisted,
       (SELECT count(*) FROM images m
        WHERE m.import_id = b.import_id AND m.album_id IS NULL AND m.removed_at IS NULL)
           AS images_without_album,
       b.error
FROM album_backfills b
JOIN imports i ON i.id = b.import_id
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE done AND error IS NULL) AS listed,
           count(*) FILTER (WHERE NOT done) AS left_to_list,
           count(*) FILTER (WHERE error IS NOT NULL) AS unlisted
    FROM album_backfill_folders WHERE import_id = b.import_id
) f
ORDER BY b.started_at DESC, b.import_id
LIMIT :limit;
