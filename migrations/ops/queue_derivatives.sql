-- Request thumbnails (derivatives) for images that have none and no job making them: stored
-- before derivatives existed, or whose job was cancelled with its import or gave up. The
-- workers queue their jobs (DERIVATIVE_BATCH_IMAGES images each) within seconds. At most
-- `max_images` per run (default 10,000); run it again to go on. The same as
-- `make backfill-derivatives` (python -m worker.backfill).
--   psql "$DATABASE_URL" -f migrations/ops/queue_derivatives.sql
--   psql "$DATABASE_URL" -v max_images=100000 -f migrations/ops/queue_derivatives.sql
\set ON_ERROR_STOP on
\if :{?max_images}
\else
\set max_images 10000
\endif
SELECT queue_image_derivatives(:max_images) AS queued_images;
