-- auth: the log of deleted accounts (issue 23, item 7). One row per deletion, without
-- personal data: the id the account had, when it was deleted, and the admin who deleted
-- it (NULL: the user themself). A restore from a backup taken before a deletion re-applies
-- every deletion logged here (docs/OPERATIONS.md, "Deleted accounts"; issue 25), so a
-- restored database does not bring a deleted user back. Expand-only: a new table.
CREATE TABLE IF NOT EXISTS deleted_account (
    user_id    UUID        PRIMARY KEY,
    deleted_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    by_admin   UUID
);
