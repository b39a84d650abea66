-- The trigram index kept each trigram's positions, so that FTS5 could answer a phrase; the
-- queue applies its exact LIKE to every candidate anyway, so it now asks for the rows that
-- hold every trigram of the search and lets the LIKE check their order. Without positions
-- (`detail=none`) and the per-row size record nothing ranks by (`columnsize=0`), a log
-- wrote 248.9 KiB to the WAL and its checkpoints against 294.4 (docs/benchmarks.md).
DROP TRIGGER case_search_insert;
DROP TRIGGER case_search_delete;
DROP TRIGGER case_search_update;
DROP TABLE case_search;

CREATE VIRTUAL TABLE case_search USING fts5(
    search,
    tokenize = 'trigram',
    content = 'case_summaries',
    content_rowid = 'rowid',
    detail = none,
    columnsize = 0
);

CREATE TRIGGER case_search_insert AFTER INSERT ON case_summaries BEGIN
    INSERT INTO case_search (rowid, search) VALUES (new.rowid, new.search);
END;

CREATE TRIGGER case_search_delete AFTER DELETE ON case_summaries BEGIN
    INSERT INTO case_search (case_search, rowid, search) VALUES ('delete', old.rowid, old.search);
END;

CREATE TRIGGER case_search_update AFTER UPDATE OF search ON case_summaries
WHEN old.search IS NOT new.search BEGIN
    INSERT INTO case_search (case_search, rowid, search) VALUES ('delete', old.rowid, old.search);
    INSERT INTO case_search (rowid, search) VALUES (new.rowid, new.search);
END;

INSERT INTO case_search (case_search) VALUES ('rebuild');
