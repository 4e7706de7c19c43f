-- A file the source refuses for now (Drive's downloadQuotaExceeded: a popular file, for up to
-- 24 h) waits, pending, instead of failing (issue 23): since when it waits and when it is tried
-- next. The index finds an import's waiting files for its progress without reading the others.
-- depends: 0023_source_pace_follows_rate_limits

ALTER TABLE import_files
    ADD COLUMN quota_wait_since timestamptz,
    ADD COLUMN next_try_at      timestamptz;

CREATE INDEX import_files_quota_wait_idx ON import_files (import_id, next_try_at)
    WHERE state = 'pending' AND quota_wait_since IS NOT NULL;
