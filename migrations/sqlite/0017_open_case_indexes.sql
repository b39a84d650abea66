-- Indexes over open cases only: a store of a million cases holds a few percent open, and
-- the work queues and the dashboard mostly ask about those. Queries must say
-- `status = 'open'` literally for SQLite to use a partial index (a bound parameter does
-- not prove the index's condition).
--
-- SQLite has no INCLUDE: the columns the dashboard groups open cases by and the SLA
-- filters test are trailing key columns, so counting the breached or grouping for the
-- dashboard reads this index alone. `status` leads so that the planner prefers it to
-- `case_summaries_open` (status, due_key, id), which would read the table for each case.
CREATE INDEX case_summaries_open_due ON case_summaries
    (status, due_key, id, next_due, division, stage, theme, root_cause, owner_id, received_on)
    WHERE status = 'open';
-- One owner's open cases in due order.
CREATE INDEX case_summaries_open_owner ON case_summaries (status, owner_id, due_key, id)
    WHERE status = 'open';
