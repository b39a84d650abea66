-- A case's fold (about 3.4 kB of JSON at a dozen events, more for long cases) is
-- compressed whenever it is written: by every command and by a rebuild, where pglz was 6%
-- of the machine's CPU. lz4 compresses several times faster to about the same size. A
-- server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE case_records ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available: case_records.body stays pglz';
END
$$;
