-- The work queue's free-text search is `search LIKE '%term%'`, which SQLite answers by
-- reading every row. An FTS5 trigram index of the same text finds the rows that hold a
-- term of three or more characters; the queue still applies the exact LIKE to them.
-- External content: the text lives once, in case_summaries; triggers keep the index in step.
CREATE VIRTUAL TABLE case_search USING fts5(
    search,
    tokenize = 'trigram',
    content = 'case_summaries',
    content_rowid = 'rowid'
);

CREATE TRIGGER case_search_insert AFTER INSERT ON case_summaries BEGIN
    INSERT INTO case_search (rowid, search) VALUES (new.rowid, new.search);
END;

CREATE TRIGGER case_search_delete AFTER DELETE ON case_summaries BEGIN
    INSERT INTO case_search (case_search, rowid, search) VALUES ('delete', old.rowid, old.search);
END;

CREATE TRIGGER case_search_update AFTER UPDATE OF search ON case_summaries BEGIN
    INSERT INTO case_search (case_search, rowid, search) VALUES ('delete', old.rowid, old.search);
    INSERT INTO case_search (rowid, search) VALUES (new.rowid, new.search);
END;

INSERT INTO case_search (case_search) VALUES ('rebuild');
