-- Webhooks: an import that carries a notify_url tells it when it ends.
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
-- depends: 0017_syncs

CREATE TABLE webhook_deliveries (
    -- Sent as the event's `webhook-id`: the same on every attempt, so a receiver can skip one
    -- it has seen.
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    import_id       uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    sync_id         uuid REFERENCES syncs (id) ON DELETE SET NULL,
    url             text NOT NULL,
    event_type      text NOT NULL CHECK (event_type IN ('import.completed',
                                                        'import.completed_with_errors',
                                                        'import.failed', 'import.cancelled')),
    -- The import as it ended: a retry that reopens it later must not change what this event
    -- said.
    payload         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'queued', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text,
    next_attempt_at timestamptz
);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (created_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_import_idx ON webhook_deliveries (import_id, created_at DESC);

-- Every request sent (or refused before it was sent), with what came back.
CREATE TABLE webhook_attempts (
    delivery_id     uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt         integer NOT NULL CHECK (attempt >= 1),
    started_at      timestamptz NOT NULL,
    duration_ms     integer NOT NULL CHECK (duration_ms >= 0),
    -- NULL when no answer came (refused address, connection error, timeout).
    response_status integer,
    error           text,
    PRIMARY KEY (delivery_id, attempt)
);

-- UTC with a `Z`, whatever the session's time zone: what the event carries.
CREATE FUNCTION webhook_time(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE
AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
$$;

CREATE FUNCTION record_import_webhook() RETURNS trigger
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
                'removed', NEW.removed),
            'bytes_imported', NEW.bytes_imported,
            'error', NEW.error,
            'created_at', webhook_time(NEW.created_at),
            'started_at', webhook_time(NEW.started_at),
            'finished_at', webhook_time(NEW.finished_at)));
    RETURN NULL;
END;
$$;

-- AFTER, so the event carries the row as it was stored (0017's BEFORE trigger has counted the
-- images a sync run found removed). From a live status only: a retried import that ends again
-- (requeue_failed_files reopened it) is a new event with a delivery of its own.
CREATE TRIGGER imports_ended_notify
    AFTER UPDATE OF status ON imports
    FOR EACH ROW
    WHEN (NEW.notify_url IS NOT NULL
          AND OLD.status IN ('queued', 'running')
          AND NEW.status IN ('completed', 'completed_with_errors', 'failed', 'cancelled'))
    EXECUTE FUNCTION record_import_webhook();

-- Operators: one row per attempt of every delivery (a delivery not yet tried has one row with
-- no attempt). migrations/ops/webhook_deliveries.sql reads it.
CREATE VIEW webhook_delivery_log AS
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
