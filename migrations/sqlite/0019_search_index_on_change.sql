-- Every command rewrites its case's queue row, and `search` is in every rewrite, so the
-- trigram index was updated (every trigram deleted and inserted again) by each command,
-- though only a few commands change the text. Now only when the text changes.
DROP TRIGGER case_search_update;
CREATE TRIGGER case_search_update AFTER UPDATE OF search ON case_summaries
WHEN old.search IS NOT new.search BEGIN
    INSERT INTO case_search (case_search, rowid, search) VALUES ('delete', old.rowid, old.search);
    INSERT INTO case_search (rowid, search) VALUES (new.rowid, new.search);
END;
