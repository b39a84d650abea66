-- An open case has no end date and most cases no open action, yet each new case put a NULL
-- entry in both indexes: two of the pages a log wrote. The queue and the dashboard compare
-- the column (`ended_on >= ?`, `action_due < ?`), which proves it is not NULL, so indexes of
-- the rows that have one answer them with the same plans. The reports' period query
-- (`ended_on IS NULL OR ended_on >= ?`) reads the received-date index with either. A log
-- wrote 225.5 KiB to the WAL and its checkpoints against 248.9 (docs/benchmarks.md).
DROP INDEX case_summaries_ended;
CREATE INDEX case_summaries_ended ON case_summaries (ended_on) WHERE ended_on IS NOT NULL;
DROP INDEX case_summaries_action_due;
CREATE INDEX case_summaries_action_due ON case_summaries (action_due)
    WHERE action_due IS NOT NULL;
