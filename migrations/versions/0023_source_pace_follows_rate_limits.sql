-- The shared pace of a source follows its rate-limit answers (issue 23): the rate it allows now,
-- cut after a rate-limit answer and growing back from then (worker/pacing.py), and what it
-- granted and what the source refused since `window_started`, which is what a cut goes by.
-- depends: 0022_image_read_indexes

ALTER TABLE source_pacing
    -- Requests per second since the last cut (NULL: never cut, the workers' configured pace).
    ADD COLUMN rate           double precision CHECK (rate > 0),
    ADD COLUMN rate_cut_at    timestamptz,
    ADD COLUMN granted        bigint NOT NULL DEFAULT 0,
    ADD COLUMN refused        bigint NOT NULL DEFAULT 0,
    ADD COLUMN window_started timestamptz NOT NULL DEFAULT now();
