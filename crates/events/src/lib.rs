//! Events: what the hub publishes, how it is stored until the broker has it, and
//! how it gets there.
//!
//! * [`broker`]: opening a RabbitMQ connection (frame size, connection name, failing
//!   over between several brokers) and declaring queues (classic or quorum).
//! * [`catalogue`]: every event name, queue and payload, in one place (mirrored in
//!   `docs/EVENTS.md`).
//! * [`outbox`]: producers write an event in the same PostgreSQL transaction as the
//!   data it describes, so a request never waits on, or fails because of, RabbitMQ.
//! * [`relay`]: a background task that publishes pending outbox rows with publisher
//!   confirms and marks them sent only after the broker's ack. Safe to run in every
//!   instance of every service at once (`FOR UPDATE SKIP LOCKED`).
//! * [`consumer`]: the generic consuming side (reconnect, prefetch, ack after the
//!   work, bounded retries with backoff, dead-lettering with confirms); services
//!   supply a [`consumer::Handler`].
//!
//! Delivery is at-least-once: a crash between the broker's ack and the commit of
//! `published_at` republishes the row with the same `message_id`, which consumers use
//! to deduplicate.

pub mod broker;
pub mod catalogue;
pub mod consumer;
pub mod outbox;
pub mod relay;
