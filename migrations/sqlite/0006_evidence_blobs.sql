-- Evidence content, kept in the store's own database file. One row per SHA-256: the same
-- file attached twice, to one case or many, is stored once.
CREATE TABLE evidence_blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    content BLOB NOT NULL
);
