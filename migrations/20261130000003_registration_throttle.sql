-- Registrations per client address (user-soap): each costs a full-strength password
-- hash, so an anonymous client could otherwise spend the machine's CPU at will. A
-- fixed window per address, counted in PostgreSQL so every instance agrees, atomically
-- with the check.
CREATE TABLE IF NOT EXISTS registration_throttle (
  key            TEXT        PRIMARY KEY,
  attempts       INTEGER     NOT NULL,
  window_started TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS registration_throttle_window_idx ON registration_throttle (window_started);
