-- The event store read and written by postgres-es, plus what the audit trail needs:
-- a global position across all cases and the server time each event was recorded.
CREATE TABLE events
(
    aggregate_type text                         NOT NULL,
    aggregate_id   text                         NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text                         NOT NULL,
    event_version  text                         NOT NULL,
    payload        jsonb                        NOT NULL,
    metadata       jsonb                        NOT NULL,
    position       bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    recorded_at    timestamptz                  NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

-- One snapshot per case, so long cases load as fast as short ones.
CREATE TABLE snapshots
(
    aggregate_type   text                                 NOT NULL,
    aggregate_id     text                                 NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          jsonb                                NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- Human-readable references (CF-2025-000042): one serial per year.
CREATE TABLE reference_counters
(
    year bigint PRIMARY KEY,
    last bigint NOT NULL
);
