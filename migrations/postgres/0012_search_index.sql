-- The work queue's free-text search is `search LIKE '%term%'`, which no b-tree can answer;
-- a trigram index can, so a search of a million cases does not read every row. pg_trgm
-- ships with PostgreSQL's contrib modules and is a trusted extension (a database owner may
-- create it); where it is missing or not allowed, the queue still works, by scanning.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX IF NOT EXISTS case_summaries_search_trgm
            ON case_summaries USING gin (search gin_trgm_ops);
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pg_trgm not created (%); free-text search will scan', SQLERRM;
END
$$;
