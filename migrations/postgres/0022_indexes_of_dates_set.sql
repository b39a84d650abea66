-- Most cases have no open action, yet each new case put a NULL entry in this index. Its
-- queries compare the column (`action_due < $1`), which proves it is not NULL, so an index of
-- the rows that have one answers them, with one index insert fewer a log. (The end-date index
-- stays whole: the reports' period query asks for `ended_on IS NULL OR ended_on >= $2`,
-- which PostgreSQL answers from it: 17–35 ms against 213–235 ms without it, a million rows.)
DROP INDEX case_summaries_action_due;
CREATE INDEX case_summaries_action_due ON case_summaries (action_due)
    WHERE action_due IS NOT NULL;
