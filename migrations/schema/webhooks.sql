-- The webhook lifecycle: an import that carries a notify_url tells it when it ends.
--
-- The delivery is recorded here, by a trigger on the import's status, so that every path that
-- ends an import is covered the same way: the worker completing, failing or refusing it, the
-- API's cancel, and an operator's SQL (cancel_import). The trigger queues no job: the worker's
-- `webhook.queue_pending_deliveries` job (every few seconds) claims pending deliveries and
-- defers their `webhook.deliver` jobs through Procrastinate's public Python API, in the same
-- transaction (never through its SQL functions).
--
--   pending ──(claimed by the worker)──▶ queued ──(a 2xx)──▶ delivered
--                                          │
--                                          └──(refused address, no secret, or retried for
--                                              WEBHOOK_RETRY_FOR_SECONDS)──▶ failed
--
-- Applied by migrate on every run, after syncs.sql: its trigger fires after the sync's
-- BEFORE trigger has counted the images a run found removed.


-- UTC with a `Z`, whatever the session's time zone: what the event carries.
CREATE OR REPLACE FUNCTION webhook_time(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE
AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
$$;

CREATE OR REPLACE FUNCTION record_import_webhook() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO webhook_deliveries (import_id, sync_id, url, event_type, payload)
    VALUES (
        NEW.id, NEW.sync_id, NEW.notify_url, 'import.' || NEW.status,
        jsonb_build_object(
            'import_id', NEW.id,
            'sync_id', NEW.sync_id,
            'status', NEW.status,
            'counts', jsonb_build_object(
                'discovered', NEW.discovered, 'imported', NEW.imported,
                'unchanged', NEW.unchanged, 'skipped', NEW.skipped, 'failed', NEW.failed,
                'removed', NEW.removed, 'settled', import_settled_files(NEW),
                'waiting_for_quota', (import_quota_waits(NEW)).files),
            'bytes_imported', NEW.bytes_imported,
            'error', NEW.error,
            'created_at', webhook_time(NEW.created_at),
            'started_at', webhook_time(NEW.started_at),
            'finished_at', webhook_time(NEW.finished_at)));
    RETURN NULL;
END;
$$;

-- AFTER, so the event carries the row as it was stored (syncs.sql's BEFORE trigger has counted
-- the images a sync run found removed). From a live status only: a retried import that ends
-- again (requeue_failed_files reopened it) is a new event with a delivery of its own.
CREATE OR REPLACE TRIGGER imports_ended_notify
    AFTER UPDATE OF status ON imports
    FOR EACH ROW
    WHEN (NEW.notify_url IS NOT NULL
          AND OLD.status IN ('queued', 'running')
          AND NEW.status IN ('completed', 'completed_with_errors', 'failed', 'cancelled'))
    EXECUTE FUNCTION record_import_webhook();

-- Operators: one row per attempt of every delivery (a delivery not yet tried has one row with
-- no attempt). migrations/ops/webhook_deliveries.sql reads it.
CREATE OR REPLACE VIEW webhook_delivery_log AS
SELECT d.import_id,
       d.id AS delivery_id,
       d.event_type,
       d.url,
       d.state,
       d.attempts,
       d.created_at,
       d.delivered_at,
       d.next_attempt_at,
       d.last_error,
       a.attempt,
       a.started_at AS attempt_started_at,
       a.duration_ms,
       a.response_status,
       a.error AS attempt_error
FROM webhook_deliveries d
LEFT JOIN webhook_attempts a ON a.delivery_id = d.id;
