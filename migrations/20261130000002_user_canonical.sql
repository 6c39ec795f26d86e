-- Look-alike identities (docs/COMPATIBILITY.md, user-soap): usernames and emails are
-- unique under a canonical form, so `Ann`, `ANN`, `Ａｎｎ` (fullwidth) and a decomposed
-- accent cannot be different accounts. Stored values stay as given; only the indexes
-- hold the canonical form.
--
-- The canonical form: Unicode NFKC, then case folded as upper-then-lower case mapping
-- under ICU's root locale (so `ß` = `ss` and final sigma = sigma, whatever the
-- database's own locale). One definition, used by every index and every query.
CREATE OR REPLACE FUNCTION identity_canonical(s text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  RETURN lower(upper(normalize(s, NFKC) COLLATE "und-x-icu"));

-- Rows written before this rule (or by an original service still running) keep
-- canonical_unique = false: they may collide with each other, and registration checks
-- new values against them in its transaction (no new legacy row can appear meanwhile).
-- Rows registered from now on are unique among themselves by the partial indexes,
-- which the database enforces even for concurrent registrations.
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS canonical_unique BOOLEAN NOT NULL DEFAULT false;

-- Lookups by canonical form (login by another spelling; the checks above), all rows.
CREATE INDEX IF NOT EXISTS user_username_canonical_idx ON "user" (identity_canonical(username));
CREATE INDEX IF NOT EXISTS user_email_canonical_idx ON "user" (identity_canonical(email));

CREATE UNIQUE INDEX IF NOT EXISTS user_username_canonical_key
  ON "user" (identity_canonical(username)) WHERE canonical_unique;
CREATE UNIQUE INDEX IF NOT EXISTS user_email_canonical_key
  ON "user" (identity_canonical(email)) WHERE canonical_unique;
