-- Queue thumbnails (derivatives) for images that have none and no job making them: stored
-- before derivatives existed, or whose job was cancelled with its import or gave up. At most
-- `max_images` per run (default 10,000), in jobs of `batch_images` (default 32); run it again
-- to go on. The same as `make backfill-derivatives` (python -m worker.backfill).
--   psql "$DATABASE_URL" -f migrations/ops/queue_derivatives.sql
--   psql "$DATABASE_URL" -v max_images=100000 -f migrations/ops/queue_derivatives.sql
\set ON_ERROR_STOP on
\if :{?max_images}
\else
\set max_images 10000
\endif
\if :{?batch_images}
\else
\set batch_images 32
\endif
SELECT queue_image_derivatives(:max_images, :batch_images) AS queued_images;
