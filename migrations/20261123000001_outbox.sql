-- Transactional outbox (docs/EVENTS.md). A producer inserts its event in the same
-- transaction as the data it describes; the relay publishes pending rows to RabbitMQ
-- with publisher confirms and sets published_at only after the broker's ack.
CREATE TABLE IF NOT EXISTS outbox (
  id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id     UUID        NOT NULL UNIQUE,
  queue          TEXT        NOT NULL,
  event          TEXT        NOT NULL,
  body           TEXT        NOT NULL,          -- the exact bytes published (JSON envelope)
  correlation_id TEXT,                          -- the x-request-id of the producing request
  created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
  published_at   TIMESTAMPTZ,
  attempts       INTEGER     NOT NULL DEFAULT 0,
  last_error     TEXT
);

-- The relay only ever scans pending rows, oldest first.
CREATE INDEX IF NOT EXISTS outbox_pending_idx ON outbox (id) WHERE published_at IS NULL;

-- Wake every relay (any instance, any service) as soon as a producer commits, so
-- delivery latency does not depend on the polling interval.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox', '');
  RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
