-- Selections of images kept for a download link (POST /archives, then GET /archives/{id}): the
-- link names the same images in the same order however often it is fetched, so a cut download
-- resumes (Range) into the same archive. Forgotten after ARCHIVE_LINK_TTL_SECONDS.
-- depends: 0027_import_folder_name

CREATE TABLE archives (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL,
    image_ids  uuid[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX archives_created_idx ON archives (created_at);
