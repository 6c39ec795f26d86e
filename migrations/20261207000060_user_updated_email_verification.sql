-- Issue 23: when a user row last changed, whether its email is verified, and the codes
-- that confirm an address (at registration, and the new address of an email change).
-- Expand-only: two nullable columns without default (adding them rewrites nothing; the
-- originals and the previous release name their columns and never see them), a
-- trigger, and a new table.

-- When the row was last written: set by the trigger below on insert and on every
-- update that changes what the user is (any column but the bookkeeping ones), whoever
-- writes it, so no writer has to remember it. NULL: not written since this migration.
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS updated_at TIMESTAMPTZ;

-- When the current email was confirmed (a code mailed to it came back). NULL: never,
-- as every row registered before this migration. Changing the email through the
-- email-change flow confirms the new address at once (its code was mailed there).
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS email_verified_at TIMESTAMPTZ;

-- Sets updated_at. Bookkeeping that does not change the user is not an update of it:
-- user-soap's look-alike key backfill (username_skeleton*), and auth's rehash of the
-- same password after a login (hub.password_rehash set in its transaction, as the
-- token-revocation trigger of migration refresh_tokens reads it). Comparing the rows as
-- JSON minus those keys counts columns added later too.
CREATE OR REPLACE FUNCTION user_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ignored text[] := ARRAY['updated_at', 'username_skeleton', 'username_skeleton_unique'];
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF coalesce(current_setting('hub.password_rehash', true), '') = 'on' THEN
      ignored := ignored || 'password'::text;
    END IF;
    IF (to_jsonb(NEW) - ignored) IS NOT DISTINCT FROM (to_jsonb(OLD) - ignored) THEN
      RETURN NEW;
    END IF;
  END IF;
  NEW.updated_at := clock_timestamp();
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS user_set_updated_at ON "user";
CREATE TRIGGER user_set_updated_at
  BEFORE INSERT OR UPDATE ON "user"
  FOR EACH ROW EXECUTE FUNCTION user_set_updated_at();

-- A code mailed to an address, waiting to be used: at most one per user and purpose
-- ('registration': verify the account's email; 'email_change': confirm `email` as the
-- account's new address). Only the SHA-256 of the code is stored (a code is 160 random
-- bits, so a fast digest cannot be reversed); using one deletes its row (one atomic
-- DELETE ... RETURNING, so of two uses at once on any instances one wins). Asking again
-- replaces the row, and with it the code (at most once per resend interval, decided by
-- created_at in the same statement). Rows past expires_at are refused and pruned.
CREATE TABLE IF NOT EXISTS email_confirmation (
  user_id     UUID         NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
  purpose     TEXT         NOT NULL CHECK (purpose IN ('registration', 'email_change')),
  email       VARCHAR(120) NOT NULL,
  code_digest BYTEA        NOT NULL,
  created_at  TIMESTAMPTZ  NOT NULL DEFAULT clock_timestamp(),
  expires_at  TIMESTAMPTZ  NOT NULL,
  PRIMARY KEY (user_id, purpose)
);

CREATE UNIQUE INDEX IF NOT EXISTS email_confirmation_code_key ON email_confirmation (code_digest);
CREATE INDEX IF NOT EXISTS email_confirmation_expires_idx ON email_confirmation (expires_at);
