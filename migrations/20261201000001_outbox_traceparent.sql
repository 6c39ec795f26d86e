-- The W3C trace context of the request that wrote the event (NULL when traces are off):
-- the relay puts it in the AMQP message's `traceparent` header, so the consumer's work
-- continues the producer's trace.
ALTER TABLE outbox ADD COLUMN traceparent TEXT;
