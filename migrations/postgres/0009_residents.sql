-- A resident's disclosed needs and agreed adjustments folded from their events
-- (aggregate_type 'Resident'), written in the transaction of those events. Special-category
-- data: read only through /residents/{id}/adjustments and the case view, never the queue.
CREATE TABLE resident_records
(
    resident_id text PRIMARY KEY,
    version     bigint NOT NULL,
    last_hash   text   NOT NULL,
    review_due  text,           -- YYYY-MM-DD
    body        text   NOT NULL -- the resident view, JSON
);
CREATE INDEX resident_records_review ON resident_records (review_due);

-- Every read of a resident's needs and adjustments: who, when, which resident, through what.
CREATE TABLE resident_reads
(
    resident_id text NOT NULL,
    user_id     text NOT NULL,
    role        text NOT NULL,
    read_at     text NOT NULL,
    via         text NOT NULL  -- `adjustments`, or `case:<case id>`
);
CREATE INDEX resident_reads_resident ON resident_reads (resident_id, read_at);

-- The earliest due date of a case's tracked actions still open (YYYY-MM-DD): what the
-- dashboard's `actions_overdue` and the queue's `actions=overdue` read.
ALTER TABLE case_summaries ADD COLUMN action_due text;
CREATE INDEX case_summaries_action_due ON case_summaries (action_due);
