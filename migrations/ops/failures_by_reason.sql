-- Failures over every import, by reason: how many files and imports each reason hit, and when
-- it was last seen. A reason that spreads across imports points at the source or a credential.
--   psql "$DATABASE_URL" -f migrations/ops/failures_by_reason.sql
-- Reads the failures_by_reason view (migrations/schema/imports.sql).
\set ON_ERROR_STOP on
SELECT reason, files, imports, last_failed_at
FROM failures_by_reason
ORDER BY files DESC, reason;
