-- Evidence content, kept in the store itself so a deployment needs no shared disk. One row
-- per SHA-256: the same file attached twice, to one case or many, is stored once.
CREATE TABLE evidence_blobs (
    sha256 TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    content BYTEA NOT NULL
);
