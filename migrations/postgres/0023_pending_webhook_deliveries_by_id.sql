-- A delivery round pages through the pending webhook deliveries by id (`id > ?`, in id
-- order), so that each is tried once a round. Without statistics SQLite's planner answered
-- that by walking the table by rowid, delivered rows and all, every second (`EXPLAIN QUERY
-- PLAN`: `SEARCH d USING INTEGER PRIMARY KEY (rowid>?)`); an index of the pending rows by
-- id answers it from those alone, as `outbox_pending` does for the outbox.
CREATE INDEX webhook_deliveries_pending_by_id ON webhook_deliveries (id) WHERE delivered_at IS NULL;
