-- notifications: one row per mailed event, keyed by the event's AMQP message_id, so a
-- redelivered or twice-published event is mailed once (services/notifications/README.md,
-- "Once per event"). Expand-only: a new table, nothing else touched.
--   claimed_at   when the mail was first claimed: the per-recipient rate limit counts
--                these within its sliding window
--   lease_until  until when the claiming instance may send it; a lease that ran out
--                without sent_at (a crash, a failed send) is taken over by the next try
--   sent_at      when the SMTP server accepted it; set, the event is never mailed again
-- recipient is the address lowercased. Rows are deleted after NOTIFY_RETENTION_HOURS.
CREATE TABLE IF NOT EXISTS notification (
    message_id  text        PRIMARY KEY,
    template    text        NOT NULL,
    recipient   text        NOT NULL,
    claimed_at  timestamptz NOT NULL,
    lease_until timestamptz NOT NULL,
    sent_at     timestamptz
);

CREATE INDEX IF NOT EXISTS notification_recipient_claimed
    ON notification (recipient, claimed_at);
