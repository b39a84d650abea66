-- How often each word occurs in the queue's search text, kept by ANALYZE (and autovacuum)
-- as the most common elements of this expression; nothing is written per command. The
-- trigram index reads every posting list of a search's trigrams in full, so a word that
-- most cases contain ("flat", a reference's year) costs as much as reading the whole
-- table's share of it. The queue leaves such words out of the index condition when the
-- search has a rarer word, and checks the whole search text row by row.
CREATE STATISTICS case_summaries_search_words
    ON (string_to_array(regexp_replace(search, '[^[:alnum:]]+', ' ', 'g'), ' '))
    FROM case_summaries;
