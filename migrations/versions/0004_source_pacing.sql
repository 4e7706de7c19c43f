-- A shared pace for calls to each source (per API key): every worker takes its turn here, so
-- ten workers do not call Google ten times harder than one.
-- depends: 0003_unchanged_idempotency_filters

CREATE TABLE source_pacing (
    bucket     text PRIMARY KEY,
    -- The earliest time the next call may start (a GCRA "theoretical arrival time").
    next_slot  timestamptz NOT NULL DEFAULT now()
);
