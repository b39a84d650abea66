-- Every command rewrites its case's fold and work-queue row. With pages left a fifth empty,
-- PostgreSQL can put the new row version on the same page and skip every index whose
-- columns did not change (a heap-only update): a note no longer writes the queue's seven
-- indexes and its trigram index. Applies to pages written from now on.
ALTER TABLE case_records SET (fillfactor = 80);
ALTER TABLE case_summaries SET (fillfactor = 80);
