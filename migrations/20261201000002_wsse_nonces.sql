-- WS-Security UsernameToken nonces already accepted by user-soap or user-lookup (only
-- when WSSE_MODE is on). A token with a nonce is accepted once: the first INSERT of its
-- (username, nonce) wins, on whichever instance of either service, and a replay finds
-- the row. A row is needed only until its token's Created falls out of the allowed
-- clock skew (expires_at); after that the token is refused as expired anyway, and
-- every instance prunes old rows.
CREATE TABLE IF NOT EXISTS wsse_nonce (
  username   TEXT        NOT NULL,
  nonce      BYTEA       NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (username, nonce)
);

-- Pruning scans by expiry.
CREATE INDEX IF NOT EXISTS wsse_nonce_expires_idx ON wsse_nonce (expires_at);
