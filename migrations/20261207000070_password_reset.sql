-- auth's password reset (issue 23; services/auth/README.md, "Password reset"). Expand-only:
-- two new tables, nothing else touched, so the previous release runs unchanged on them.
--
-- password_reset: one row per code mailed. The code itself is never stored, only its
-- keyed digest (HMAC-SHA256 under a subkey of auth's signing secret). A code is used by
-- one atomic `UPDATE ... SET used_at = ... WHERE digest = $1 AND used_at IS NULL AND
-- expires_at > now()`: of two uses at once, on any instances, the second finds it used.
-- A reset uses every other code of the user too. Rows go with their user, and are
-- pruned once expired.
CREATE TABLE IF NOT EXISTS password_reset (
    digest     BYTEA       PRIMARY KEY,
    user_id    UUID        NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS password_reset_user_idx ON password_reset (user_id);
CREATE INDEX IF NOT EXISTS password_reset_expires_idx ON password_reset (expires_at);

-- password_reset_throttle: reset requests per key in a fixed window, shared by every auth
-- instance (one row-locking upsert per key). Keys: `account:<user id>`,
-- `login:<SHA-256 of the login string's canonical form>`, `addr:<client or IPv6 prefix>`.
CREATE TABLE IF NOT EXISTS password_reset_throttle (
    key            TEXT        PRIMARY KEY,
    requests       INTEGER     NOT NULL,
    window_started TIMESTAMPTZ NOT NULL
);
