-- One email per notification, addressed when the notification is handed over and kept with
-- its attempts, so that a message the mail server keeps refusing is given up and recorded,
-- not retried forever in front of the notifications after it.
CREATE TABLE email_deliveries
(
    id              bigserial PRIMARY KEY,
    outbox_id       bigint NOT NULL UNIQUE REFERENCES outbox (id),
    to_address      text   NOT NULL,
    cc_address      text,
    attempts        bigint NOT NULL DEFAULT 0,
    next_attempt_at text   NOT NULL, -- RFC 3339
    sent_at         text,
    gave_up_at      text,
    last_error      text             -- the last attempt's, if it failed
);
CREATE INDEX email_deliveries_waiting ON email_deliveries (id)
    WHERE sent_at IS NULL AND gave_up_at IS NULL;
