-- Login attempts in flight (docs/RELIABILITY.md, login throttling). An attempt is
-- reserved, atomically with the limit check, before any password work; it becomes a
-- failure or is released when the password check ends. `failures + pending` never
-- exceeds the limit, however many requests arrive at once on however many instances.
ALTER TABLE login_throttle ADD COLUMN IF NOT EXISTS pending INTEGER NOT NULL DEFAULT 0;
