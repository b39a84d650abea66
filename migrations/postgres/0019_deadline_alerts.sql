-- Each open deadline carries the furthest SLA alert raised for its due date ('', 'due_soon',
-- 'breached'), written by every command with the case's other rows. The watchdog's scan then
-- reads only the steps it may still alert, through the partial index below, instead of
-- every due step and every alert event in the store.
ALTER TABLE case_deadlines ADD COLUMN alerted text NOT NULL DEFAULT '';

UPDATE case_deadlines d
SET alerted = CASE WHEN a.breached THEN 'breached' ELSE 'due_soon' END
FROM (SELECT aggregate_id,
             payload -> 'SlaAlertRaised' ->> 'step' AS step,
             payload -> 'SlaAlertRaised' ->> 'due'  AS due,
             bool_or(payload -> 'SlaAlertRaised' ->> 'state' = 'breached') AS breached
      FROM events
      WHERE aggregate_type = 'Complaint' AND event_type = 'SlaAlertRaised'
      GROUP BY 1, 2, 3) a
WHERE a.aggregate_id = d.case_id AND a.step = d.step AND a.due = d.due;

CREATE INDEX case_deadlines_unalerted ON case_deadlines (due) WHERE alerted <> 'breached';
