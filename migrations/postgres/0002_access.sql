-- Users, their roles and their bearer tokens (stored only as SHA-256 hashes).
CREATE TABLE users
(
    id         text PRIMARY KEY,
    name       text NOT NULL,
    roles      text NOT NULL, -- comma-separated role names
    created_at text NOT NULL
);

CREATE TABLE tokens
(
    token_hash text PRIMARY KEY,
    user_id    text NOT NULL REFERENCES users (id),
    created_at text NOT NULL,
    revoked_at text
);
CREATE INDEX tokens_user ON tokens (user_id);

-- Responses to requests sent with an Idempotency-Key, replayed to repeats.
CREATE TABLE idempotency_keys
(
    user_id      text   NOT NULL,
    key          text   NOT NULL,
    request_hash text   NOT NULL,
    status       bigint,          -- NULL while the first request is still running
    body         text,
    created_at   text   NOT NULL,
    PRIMARY KEY (user_id, key)
);
