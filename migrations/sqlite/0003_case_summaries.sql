-- The work-queue projection: one row per case, rebuilt from the events at any time.
-- Writes are guarded by the case version so replaying an event changes nothing.
CREATE TABLE case_summaries
(
    id          text PRIMARY KEY,
    reference   text   NOT NULL UNIQUE,
    version     integer NOT NULL,
    procedure   text   NOT NULL,
    division    text   NOT NULL,
    status      text   NOT NULL,
    stage       text   NOT NULL,
    owner_id    text,
    received_on text   NOT NULL,
    body        text   NOT NULL  -- the summary as served, JSON
);
CREATE INDEX case_summaries_status ON case_summaries (status, stage);
CREATE INDEX case_summaries_owner ON case_summaries (owner_id);
