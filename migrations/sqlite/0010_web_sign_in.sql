-- Sign-in to the staff web app. Same schema on PostgreSQL (0010_web_sign_in.sql there).

-- A user's sign-in name (their email address, lower-cased) and Argon2 password hash, with
-- the failed attempts since the last success and the lock they earned. A user without a
-- row here has no way to sign in to the web app.
CREATE TABLE user_credentials
(
    user_id         text PRIMARY KEY REFERENCES users (id),
    email           text UNIQUE,
    password_hash   text,             -- PHC string; NULL until a password is set
    failed_sign_ins integer NOT NULL DEFAULT 0,
    locked_until    text,             -- RFC 3339; NULL when not locked
    updated_at      text NOT NULL
);

-- Signed-in browsers. Only the SHA-256 hash of the cookie's value is stored; the CSRF
-- token is the synchroniser token every form of the session carries.
CREATE TABLE sessions
(
    id_hash    text PRIMARY KEY,
    user_id    text NOT NULL REFERENCES users (id),
    csrf_token text NOT NULL,
    method     text NOT NULL,         -- how the user proved who they are, e.g. `password`
    created_at text NOT NULL,
    expires_at text NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- One-time links an administrator hands to a user to set their own password.
CREATE TABLE password_links
(
    token_hash text PRIMARY KEY,
    user_id    text NOT NULL REFERENCES users (id),
    created_at text NOT NULL,
    expires_at text NOT NULL,
    used_at    text
);
CREATE INDEX password_links_user ON password_links (user_id);
