-- Images a sync found gone from their source (deleted, trashed, unshared), newest first: still
-- in the catalogue and the bucket unless their sync says `on_removed: delete`, whose deletion
-- the worker does within seconds.
--   psql "$DATABASE_URL" -f migrations/ops/removed_images.sql
--   psql "$DATABASE_URL" -v sync_id=<uuid> -v limit=100 -f migrations/ops/removed_images.sql
\set ON_ERROR_STOP on
\if :{?limit}
\else
\set limit 50
\endif
\if :{?sync_id}
\set where 'AND im.removed_by_sync_id = ' :'sync_id'
\else
\set where ''
\endif
SELECT im.id AS image_id, im.name, im.source, im.source_file_id, im.removed_at,
       im.removed_by_sync_id AS sync_id, s.on_removed, im.storage_path
FROM images im
LEFT JOIN syncs s ON s.id = im.removed_by_sync_id
WHERE im.removed_at IS NOT NULL :where
ORDER BY im.removed_at DESC, im.id
LIMIT :limit;
