-- The service that wrote the event (`auth`, `user-soap`): the relay publishes it as the
-- message's `app_id`, whichever service's relay takes the row (every relay reads the
-- whole outbox). NULL for rows written before this column existed, or by an older
-- build during a rolling upgrade; the relay then uses its own service name, as before.
ALTER TABLE outbox ADD COLUMN producer TEXT;
