-- Refresh tokens and revocation (auth writes; auth and session read on every request).
--
-- A login opens a family: a row of token_family, whose id is the `sid` claim of every
-- access token the login and its refreshes issue. Each refresh token is stored only as
-- the SHA-256 of its text; using one marks it rotated (one atomic UPDATE ... WHERE
-- rotated_at IS NULL, so of two concurrent uses on any instances only one wins) and
-- inserts its successor. A rotated token presented again means it leaked: the whole
-- family is revoked (reuse detection). Logout revokes the family.
--
-- "user".tokens_valid_after revokes everything a user was issued until then: every family
-- opened before it, and tokens without `sid` (minted by the originals) by their `iat`.
-- An operator sets it (`auth tokens revoke`), and so does any change of the password
-- (the trigger below), whoever makes it; auth's own hash upgrade after a login (the same
-- password in a new format) is exempted by setting hub.password_rehash in its
-- transaction. A nullable column without default: adding it rewrites nothing, and the
-- originals, which name their columns, are unaffected.
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS tokens_valid_after TIMESTAMPTZ;

CREATE TABLE IF NOT EXISTS token_family (
  id             UUID        PRIMARY KEY,
  user_id        UUID        NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
  created_at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  -- No refresh after this (REFRESH_TOKEN_TTL_SECS after the login): log in again.
  expires_at     TIMESTAMPTZ NOT NULL,
  revoked_at     TIMESTAMPTZ,
  revoked_reason TEXT CHECK (revoked_reason IN ('logout', 'reuse'))
);

-- Revoking a user's families and deleting a user go through user_id; pruning by expiry.
CREATE INDEX IF NOT EXISTS token_family_user_idx ON token_family (user_id);
CREATE INDEX IF NOT EXISTS token_family_expires_idx ON token_family (expires_at);

CREATE TABLE IF NOT EXISTS refresh_token (
  digest     BYTEA       PRIMARY KEY,
  family_id  UUID        NOT NULL REFERENCES token_family (id) ON DELETE CASCADE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  rotated_at TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS refresh_token_family_idx ON refresh_token (family_id);

CREATE OR REPLACE FUNCTION user_password_revokes_tokens() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.password IS DISTINCT FROM OLD.password
     AND coalesce(current_setting('hub.password_rehash', true), '') <> 'on' THEN
    NEW.tokens_valid_after := clock_timestamp();
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS user_password_revokes_tokens ON "user";
CREATE TRIGGER user_password_revokes_tokens
  BEFORE UPDATE OF password ON "user"
  FOR EACH ROW EXECUTE FUNCTION user_password_revokes_tokens();
