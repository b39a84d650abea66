-- Each case folded up to its `version` (the view's lists plus the aggregate's state), so a
-- read applies only the events recorded since. A cache of the events: rows may be deleted
-- at any time and are rebuilt on the next read.
CREATE TABLE case_records
(
    id      text PRIMARY KEY,
    version bigint NOT NULL,
    body    text   NOT NULL
);
