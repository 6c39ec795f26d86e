-- Failed-login counters for auth's brute-force throttle (docs/COMPATIBILITY.md).
-- One row per key: 'user:<login, lower-cased>' or 'addr:<client address>'. Kept in
-- PostgreSQL, not in process memory, so every auth instance sees the same counts.
CREATE TABLE IF NOT EXISTS login_throttle (
  key            TEXT        PRIMARY KEY,
  failures       INTEGER     NOT NULL,
  window_started TIMESTAMPTZ NOT NULL,
  blocked_until  TIMESTAMPTZ
);

-- Pruning scans by age.
CREATE INDEX IF NOT EXISTS login_throttle_window_idx ON login_throttle (window_started);
