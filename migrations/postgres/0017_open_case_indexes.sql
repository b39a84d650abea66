-- Indexes over open cases only: a store of a million cases holds a few percent open, and
-- the work queues and the dashboard mostly ask about those. Queries must say
-- `status = 'open'` literally for PostgreSQL to use a partial index.
--
-- The queue by due date, and every column the dashboard groups open cases by and the SLA
-- filters test: counting the breached or grouping for the dashboard reads this index alone
-- (an index-only scan) instead of one table page per open case.
CREATE INDEX case_summaries_open_due ON case_summaries (due_key, id)
    INCLUDE (next_due, division, stage, theme, root_cause, owner_id, received_on)
    WHERE status = 'open';
-- One owner's open cases in due order.
CREATE INDEX case_summaries_open_owner ON case_summaries (owner_id, due_key, id)
    WHERE status = 'open';
