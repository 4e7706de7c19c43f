-- The webhooks an import sent when it ended: one row per attempt of each delivery, with the
-- receiver's answer or why there was none. Without import_id: the 50 latest deliveries that
-- were not delivered (still being retried, or given up), to see which receivers fail.
-- `GET /imports/<uuid>/deliveries` gives the same for one import.
--   psql "$DATABASE_URL" -v import_id=<uuid> -f migrations/ops/webhook_deliveries.sql
--   psql "$DATABASE_URL" -f migrations/ops/webhook_deliveries.sql
-- Reads the webhook_delivery_log view (migrations/schema/webhooks.sql).
\set ON_ERROR_STOP on
\if :{?import_id}
SELECT delivery_id, event_type, url, state, attempt, attempt_started_at, duration_ms,
       response_status, attempt_error, next_attempt_at
FROM webhook_delivery_log
WHERE import_id = :'import_id'
ORDER BY created_at, delivery_id, attempt;
\else
SELECT import_id, id AS delivery_id, event_type, url, state, attempts, created_at,
       next_attempt_at, last_error
FROM webhook_deliveries
WHERE state <> 'delivered'
ORDER BY created_at DESC
LIMIT 50;
\endif
