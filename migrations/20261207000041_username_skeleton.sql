-- Look-alike usernames (docs/COMPATIBILITY.md, user-soap): a username whose Unicode
-- confusable skeleton (UTS #39) equals an existing user's, ignoring case, is a
-- duplicate, so `john` and `joһn` (Cyrillic shha) cannot be two accounts.
--
-- The key is computed in Rust by user-soap (`look_alike::username_skeleton`: the
-- `unicode-security` crate's UTS #39 skeleton of the username as stored, then upper-
-- then lower-case mapped); PostgreSQL has no confusables data, so the key is a column.
-- It is only ever compared with keys the same function computed (registration and the
-- backfill below), never with an SQL expression. `canonical_unique` and its indexes
-- (migration user_canonical) stay as they are: the two rules are checked side by side.
--
-- Expand-only: the previous release ignores both columns; its inserts leave the key
-- NULL and the flag false, which the new release treats as a legacy row.
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS username_skeleton TEXT;

-- True only for rows user-soap registered with their key: those are unique among
-- themselves by `user_username_skeleton_key`, which the database enforces even for
-- concurrent registrations on many instances (the first commits, the others get a
-- unique violation, answered as a duplicate username).
--
-- Every other row is legacy: written before this rule (the originals, earlier releases
-- of this port, an original service or an older instance still running during a
-- rolling upgrade). Their keys may collide with each other (`bob1` and `bobl` may both
-- exist), so they are never in the unique index and neither this migration nor the
-- backfill can fail on them. user-soap fills their keys in Rust: in batches at start-up
-- and every minute after (`SELECT … WHERE username_skeleton IS NULL … FOR NO KEY UPDATE
-- SKIP LOCKED`, then `UPDATE … WHERE username_skeleton IS NULL`: idempotent, and
-- instances running it at once share the rows instead of repeating them); the flag
-- stays false.
-- Registration checks the new key against legacy rows in its transaction: by the key
-- where it is filled, and by computing it for the rows still NULL (few once the
-- start-up backfill ran: only rows an older writer inserted since the last minute).
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS username_skeleton_unique BOOLEAN NOT NULL DEFAULT false;

CREATE UNIQUE INDEX IF NOT EXISTS user_username_skeleton_key
  ON "user" (username_skeleton) WHERE username_skeleton_unique;

-- The legacy rows by key (the registration check), and the rows still to fill (the
-- backfill and the registration check; empty once the backfill has caught up).
CREATE INDEX IF NOT EXISTS user_username_skeleton_legacy_idx
  ON "user" (username_skeleton) WHERE NOT username_skeleton_unique;
CREATE INDEX IF NOT EXISTS user_username_skeleton_pending_idx
  ON "user" (id) WHERE username_skeleton IS NULL;
