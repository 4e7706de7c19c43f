-- The derivative lifecycle of each stored image (a WebP thumbnail and the facts read from the
-- image), made by `image.make_derivatives` jobs off the import's critical path:
--
--   missing ──queue_image_derivatives──▶ requested ──(the worker queues a job)──▶ pending
--   pending ──(its job)──▶ done | not_possible      pending ──(its job gave up)──▶ missing
--
-- The worker moves the states its jobs own (domain/derivatives/repository.py); this file holds what
-- operators and the API read, and the backfill. Applied by migrate on every run, after
-- imports.sql (see its header for what belongs here and what in a versioned migration).


-- Derivative progress of every import, over the images it brought or confirmed (an image counts
-- under the latest import that did). `pending` includes the images `requested` by the backfill.
CREATE OR REPLACE VIEW image_derivative_progress AS
SELECT i.id AS import_id,
       i.status AS import_status,
       count(im.id) FILTER (WHERE im.derivative_state = 'done') AS done,
       count(im.id) FILTER (WHERE im.derivative_state IN ('requested', 'pending')) AS pending,
       count(im.id) FILTER (WHERE im.derivative_state = 'not_possible') AS not_possible,
       count(im.id) FILTER (WHERE im.derivative_state = 'missing') AS missing
FROM imports i
LEFT JOIN images im ON im.import_id = i.id
GROUP BY i.id, i.status;

-- Why thumbnails could not be made, most common first.
CREATE OR REPLACE VIEW derivative_failures_by_reason AS
SELECT derivative_reason AS reason,
       count(*) AS images,
       (array_agg(name ORDER BY name))[1:3] AS example_names
FROM images
WHERE derivative_state = 'not_possible'
GROUP BY derivative_reason;

-- The backfill: marks images `requested`; the worker's `image.queue_requested_derivatives` job
-- moves them to `pending` and queues their jobs through Procrastinate, within seconds. Up to
-- `max_images` images that need derivatives and have no job doing them (stored before
-- derivatives existed, whose job gave up, or whose job belongs to a cancelled import, and so
-- will do nothing), in id order: run it again to go on where it stopped. Returns how many; 0
-- when none is left. What `python -m worker.backfill` (make backfill-derivatives) runs.
CREATE OR REPLACE FUNCTION queue_image_derivatives(max_images integer DEFAULT 10000)
    RETURNS integer
    LANGUAGE sql
AS $$
    WITH live AS (
        SELECT DISTINCT image_id
        FROM procrastinate_jobs j, jsonb_array_elements_text(j.args -> 'image_ids') AS image_id
        -- Derivative jobs are the ones that carry image ids.
        WHERE j.args ? 'image_ids' AND j.status IN ('todo', 'doing')
          AND NOT EXISTS (SELECT 1 FROM imports i
                          WHERE i.id::text = j.args ->> 'import_id' AND i.status = 'cancelled')
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
    requested AS (
        UPDATE images im SET derivative_state = 'requested', derivative_reason = NULL
        FROM picked WHERE im.id = picked.id
        RETURNING 1
    )
    SELECT count(*)::integer FROM requested;
$$;
