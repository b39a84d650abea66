-- The watchdog's scan reads the steps that may still be alerted: those never alerted, due
-- by the furthest date that is due soon anywhere, and those alerted due soon whose due date
-- has passed. The index before held every step not yet alerted as breached, by due date
-- alone, so each scan also read every step alerted due soon and not yet due: on a busy day,
-- nearly every open case, several times a second.
DROP INDEX case_deadlines_unalerted;
CREATE INDEX case_deadlines_to_alert ON case_deadlines (alerted, due) WHERE alerted <> 'breached';
