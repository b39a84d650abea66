-- The watchdog reads the steps that may still be alerted a page at a time, in (due, case,
-- step) order, each page after the last step of the one before. With the index by
-- (alerted, due) alone, every page sorted every step after it: a backlog of 10,000 steps
-- took 28 ms a page of 256 on PostgreSQL, where this index reads the page in order and
-- stops (1.4 ms).
DROP INDEX case_deadlines_to_alert;
CREATE INDEX case_deadlines_to_alert ON case_deadlines (alerted, due, case_id, step)
    WHERE alerted <> 'breached';
