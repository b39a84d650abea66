-- Notifications of automatic events (SLA alerts), written in the transaction of the event
-- they announce and kept until every channel has been handed them.
CREATE TABLE outbox
(
    id           integer PRIMARY KEY AUTOINCREMENT,
    case_id      text   NOT NULL,
    sequence     integer NOT NULL,
    event_type   text   NOT NULL,
    payload      text   NOT NULL, -- the event as stored, JSON
    delivered_at text,            -- RFC 3339, once handed to every channel
    UNIQUE (case_id, sequence)
) STRICT;
CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_at IS NULL;

-- Webhook subscriptions, and one delivery per subscription and outbox row.
CREATE TABLE webhooks
(
    id         text PRIMARY KEY,
    url        text NOT NULL,
    secret     text NOT NULL,
    events     text NOT NULL, -- JSON array of event types
    created_at text NOT NULL
) STRICT;
CREATE TABLE webhook_deliveries
(
    id              integer PRIMARY KEY AUTOINCREMENT,
    webhook_id      text   NOT NULL REFERENCES webhooks (id),
    outbox_id       integer NOT NULL REFERENCES outbox (id),
    event_type      text   NOT NULL,
    body            text   NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at text   NOT NULL, -- RFC 3339
    delivered_at    text,
    UNIQUE (webhook_id, outbox_id)
) STRICT;
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL;
CREATE TABLE webhook_attempts
(
    delivery_id  integer NOT NULL REFERENCES webhook_deliveries (id),
    attempt      integer NOT NULL,
    attempted_at text   NOT NULL,
    status       integer,          -- the receiver's HTTP status, if it answered
    error        text,
    PRIMARY KEY (delivery_id, attempt)
) STRICT;

-- Where a user's email notifications go.
ALTER TABLE users ADD COLUMN email text;
