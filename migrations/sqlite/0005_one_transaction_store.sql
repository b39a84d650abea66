-- Every command now commits in one transaction: its events with their hash-chain links, the
-- case's fold, its list entries, its work-queue row and open deadlines, and the
-- Idempotency-Key record. The read models below are derived from the events; rows written
-- by earlier versions are dropped here and rebuilt from the events at start-up.

-- The fold is kept current by every command, so snapshots have no job left.
DROP TABLE snapshots;

-- Hash chain: hash = SHA-256(prev_hash bytes ‖ canonical bytes of the event), hex; the
-- first event of a case has an empty prev_hash. NULL only for events written before the
-- chain existed, until start-up links them.
ALTER TABLE events ADD COLUMN prev_hash text;
ALTER TABLE events ADD COLUMN hash text;

-- Global order: SQLite has one writer at a time, so a position taken inside the writing
-- transaction is already in commit order. Events written before this column existed take
-- their rowid order.
ALTER TABLE events ADD COLUMN position integer;
UPDATE events SET position = rowid;
CREATE UNIQUE INDEX events_position ON events (position);

-- The case fold: scalar view fields and the aggregate's state, plus the chain's last hash.
DROP TABLE case_records;
CREATE TABLE case_records
(
    id        text PRIMARY KEY,
    version   integer NOT NULL,
    last_hash text    NOT NULL,
    body      text    NOT NULL
) STRICT;

-- Entries of a case's unbounded lists (notes, correspondence, evidence, links), one per
-- event that added it: `list` names the list, `body` is the entry as the case view shows it.
CREATE TABLE case_items
(
    case_id  text   NOT NULL,
    sequence integer NOT NULL,
    list     text   NOT NULL,
    body     text   NOT NULL,
    PRIMARY KEY (case_id, sequence)
) STRICT;

-- The work queue: one row per case with every column a queue filters or sorts on. SLA
-- states are not stored: they are computed from `next_due` for the day of each read.
DROP TABLE case_summaries;
CREATE TABLE case_summaries
(
    id          text PRIMARY KEY,
    reference   text    NOT NULL UNIQUE,
    version     integer NOT NULL,
    procedure   text    NOT NULL,
    division    text    NOT NULL,
    channel     text    NOT NULL,
    status      text    NOT NULL,
    stage       text    NOT NULL,
    owner_id    text,
    theme       text,
    root_cause  text,
    resident_id text,
    received_on text    NOT NULL, -- YYYY-MM-DD
    ended_on    text,             -- YYYY-MM-DD, when it last left the open state
    next_due    text,             -- YYYY-MM-DD, nearest unmet deadline of an open case
    due_key     text    NOT NULL, -- next_due, or '9999-12-31' when there is none: the queue's sort
    search      text    NOT NULL, -- lower-case reference, complainant, postcode and summary
    body        text    NOT NULL  -- the summary as served, JSON
) STRICT;
CREATE INDEX case_summaries_due ON case_summaries (due_key, id);
CREATE INDEX case_summaries_received ON case_summaries (received_on, id);
CREATE INDEX case_summaries_open ON case_summaries (status, due_key, id);
CREATE INDEX case_summaries_owner ON case_summaries (owner_id);
CREATE INDEX case_summaries_resident ON case_summaries (resident_id);
CREATE INDEX case_summaries_ended ON case_summaries (ended_on);

-- The live, unmet steps of open cases, for due-date filters and the dashboard.
CREATE TABLE case_deadlines
(
    case_id text NOT NULL,
    step    text NOT NULL,
    due     text NOT NULL, -- YYYY-MM-DD
    PRIMARY KEY (case_id, step)
) STRICT;
CREATE INDEX case_deadlines_due ON case_deadlines (due, step);

-- Idempotency-Key records are written in the transaction of the write they answer; a key
-- has no "pending" state any more.
DROP TABLE idempotency_keys;
CREATE TABLE idempotency_keys
(
    user_id      text    NOT NULL,
    key          text    NOT NULL,
    request_hash text    NOT NULL,
    status       integer NOT NULL,
    body         text    NOT NULL,
    created_at   text    NOT NULL,
    PRIMARY KEY (user_id, key)
) STRICT;
