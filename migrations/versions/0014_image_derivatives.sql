-- Derivatives of each stored image: a WebP thumbnail under a derived key, and the facts read from
-- the image itself (dimensions as displayed, capture time, camera, animation). They are made by
-- `image.make_derivatives` jobs on their own queue, off the import's critical path: an import
-- completes without waiting for them.
-- depends: 0012_transfer_batches

-- derivative_state: `missing` (stored before derivatives existed, or its job was lost: the
-- backfill queues it), `pending` (a job is queued for it), `done`, `not_possible` (with the
-- reason in derivative_reason; the image itself stays imported).
ALTER TABLE images
    ADD COLUMN width            integer CHECK (width > 0),
    ADD COLUMN height           integer CHECK (height > 0),
    -- EXIF DateTimeOriginal: the camera's wall clock, which carries no time zone.
    ADD COLUMN taken_at         timestamp,
    ADD COLUMN camera_make      text,
    ADD COLUMN camera_model     text,
    ADD COLUMN animated         boolean,
    ADD COLUMN thumbnail_key    text,
    ADD COLUMN derivative_state text NOT NULL DEFAULT 'missing'
               CHECK (derivative_state IN ('missing', 'pending', 'done', 'not_possible')),
    ADD COLUMN derivative_reason text;
-- Rows inserted from now on are queued for derivatives in the statement that stores them.
ALTER TABLE images ALTER COLUMN derivative_state SET DEFAULT 'pending';

-- GET /images?sort=taken_at: newest capture first, images without a capture time last (their
-- sort key is the earliest timestamp PostgreSQL and Python share), keyset-paginated on
-- (sort key, id) like the default order.
CREATE INDEX images_taken_newest_idx
    ON images ((coalesce(taken_at, '0001-01-01 00:00:00'::timestamp)) DESC, id DESC);
-- Each import's derivative progress is a GROUP BY over this, index only.
CREATE INDEX images_import_derivative_state_idx ON images (import_id, derivative_state);
-- The backfill finds the images it has to queue without reading the others.
CREATE INDEX images_derivatives_to_queue_idx ON images (id)
    WHERE derivative_state IN ('missing', 'pending');

-- Derivative progress of every import, over the images it brought or confirmed (an image counts
-- under the latest import that did).
CREATE VIEW image_derivative_progress AS
SELECT i.id AS import_id,
       i.status AS import_status,
       count(im.id) FILTER (WHERE im.derivative_state = 'done') AS done,
       count(im.id) FILTER (WHERE im.derivative_state = 'pending') AS pending,
       count(im.id) FILTER (WHERE im.derivative_state = 'not_possible') AS not_possible,
       count(im.id) FILTER (WHERE im.derivative_state = 'missing') AS missing
FROM imports i
LEFT JOIN images im ON im.import_id = i.id
GROUP BY i.id, i.status;

-- Why thumbnails could not be made, most common first.
CREATE VIEW derivative_failures_by_reason AS
SELECT derivative_reason AS reason,
       count(*) AS images,
       (array_agg(name ORDER BY name))[1:3] AS example_names
FROM images
WHERE derivative_state = 'not_possible'
GROUP BY derivative_reason;

-- Queue derivatives for up to `max_images` images that need them and have no job: those stored
-- before derivatives existed (`missing`), and `pending` ones whose job is gone (cancelled with
-- their import, or failed). In image id order, as jobs of up to `batch_images` images each,
-- committed with the images' move to `pending`: run it again to go on where it stopped (what it
-- queued is no longer picked). Returns how many images were queued; 0 when none is left.
-- What `python -m worker.backfill` (make backfill-derivatives) runs.
CREATE FUNCTION queue_image_derivatives(max_images integer DEFAULT 10000,
                                        batch_images integer DEFAULT 100) RETURNS integer
    LANGUAGE plpgsql
AS $$
DECLARE
    queued integer;
BEGIN
    CREATE TEMPORARY TABLE queued_images ON COMMIT DROP AS
    WITH live AS (
        SELECT DISTINCT image_id
        FROM procrastinate_jobs j, jsonb_array_elements_text(j.args -> 'image_ids') AS image_id
        WHERE j.task_name = 'image.make_derivatives' AND j.status IN ('todo', 'doing')
    ),
    picked AS (
        SELECT im.id
        FROM images im
        WHERE im.derivative_state IN ('missing', 'pending')
          AND NOT EXISTS (SELECT 1 FROM live WHERE live.image_id = im.id::text)
        ORDER BY im.id
        LIMIT greatest(max_images, 0)
        FOR UPDATE SKIP LOCKED
    ),
    moved AS (
        UPDATE images im SET derivative_state = 'pending', derivative_reason = NULL
        FROM picked WHERE im.id = picked.id
        RETURNING im.id
    )
    SELECT id, (row_number() OVER (ORDER BY id) - 1) / greatest(batch_images, 1) AS batch
    FROM moved;
    GET DIAGNOSTICS queued = ROW_COUNT;

    -- The jobs the worker's own deferral makes: its queue, task name and priority, no import
    -- (a backfill belongs to none, so cancelling an import leaves it alone).
    PERFORM procrastinate_defer_jobs_v1(ARRAY(
        SELECT ROW('derivatives', 'image.make_derivatives', -10, NULL, NULL,
                   jsonb_build_object('import_id', NULL,
                                      'image_ids', jsonb_agg(id::text ORDER BY id)),
                   NULL)::procrastinate_job_to_defer_v1
        FROM queued_images
        GROUP BY batch
        ORDER BY batch
    ));
    DROP TABLE queued_images;
    RETURN queued;
END;
$$;
