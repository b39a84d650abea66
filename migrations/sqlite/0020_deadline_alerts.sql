-- Each open deadline carries the furthest SLA alert raised for its due date ('', 'due_soon',
-- 'breached'), written by every command with the case's other rows. The watchdog's scan then
-- reads only the steps it may still alert, through the partial index below, instead of
-- every due step and every alert event in the store.
ALTER TABLE case_deadlines ADD COLUMN alerted TEXT NOT NULL DEFAULT '';

UPDATE case_deadlines
SET alerted = (
    SELECT CASE
               WHEN COUNT(*) = 0 THEN ''
               WHEN MAX(json_extract(e.payload, '$.SlaAlertRaised.state') = 'breached') = 1
                   THEN 'breached'
               ELSE 'due_soon'
           END
    FROM events e
    WHERE e.aggregate_type = 'Complaint'
      AND e.aggregate_id = case_deadlines.case_id
      AND e.event_type = 'SlaAlertRaised'
      AND json_extract(e.payload, '$.SlaAlertRaised.step') = case_deadlines.step
      AND json_extract(e.payload, '$.SlaAlertRaised.due') = case_deadlines.due);

CREATE INDEX case_deadlines_unalerted ON case_deadlines (due) WHERE alerted <> 'breached';
