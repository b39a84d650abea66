-- The search's trigram index gathers new entries in a pending list and merges them into
-- the index when the list is full: the command that fills it does the merge. At the
-- default 4 MB that held one command in several thousand for 130-150 ms; a list of 256 kB
-- is merged sixteen times as often, each merge a sixteenth the size. (Autovacuum empties
-- the list too.) Skipped where migration 0012 could not make the index.
DO $$
BEGIN
    IF to_regclass('case_summaries_search_trgm') IS NOT NULL THEN
        ALTER INDEX case_summaries_search_trgm SET (gin_pending_list_limit = 256);
    END IF;
END
$$;
