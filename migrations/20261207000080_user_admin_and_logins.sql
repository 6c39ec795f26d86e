-- Administration and a user's own logins (services/auth/README.md, "Accounts:
-- administration" and "Logins"; issue 23 items 5 and 6).
--
-- "user".deactivated_at: set while an administrator has deactivated the account (NULL:
-- active, the API's is_active). A deactivated user cannot log in or refresh, and every
-- token of theirs is refused at every service that checks revocation
-- (hub_identity::revocation reads it with tokens_valid_after). Deactivation also sets
-- tokens_valid_after in the same transaction, so the previous release, which does not
-- read this column, refuses every token issued until then too.
--
-- "user".roles: the roles an operator granted (`auth users grant-admin`); only 'admin'
-- exists. Access tokens carry them as the `roles` claim; admin routes check the claim
-- and this column both, so revoking the role takes effect at once.
--
-- token_family.address / user_agent: the client a login came from (shown in the logins
-- lists). NULL for logins made by the previous release.
--
-- Expand-only: nullable columns, and one NOT NULL with a constant default (a catalogue
-- change in PostgreSQL 11+, no rewrite). The previous release neither reads nor writes
-- them, and the originals name their columns on INSERT.
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS deactivated_at TIMESTAMPTZ;
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS roles TEXT[] NOT NULL DEFAULT '{}';
ALTER TABLE token_family ADD COLUMN IF NOT EXISTS address TEXT;
ALTER TABLE token_family ADD COLUMN IF NOT EXISTS user_agent TEXT;

-- The admin list filters by username/email prefix (lower-cased) and pages by username.
CREATE INDEX IF NOT EXISTS user_username_lower_idx ON "user" (lower(username) text_pattern_ops);
CREATE INDEX IF NOT EXISTS user_email_lower_idx ON "user" (lower(email) text_pattern_ops);
