//! Session configuration, read once from the environment at start-up.

use hub_db::PgSettings;
use hub_events::{catalogue::queues, consumer::ConsumerConfig};
use hub_identity::verifier::VerifierConfig;
use hub_mongo::MongoSettings;
use hub_runtime::{
    config::{ConfigError, Vars},
    service::ServiceConfig,
};

/// What the service reads besides the skeleton's HTTP settings
/// ([`Settings`](hub_runtime::service::Settings)); each field names its variable and default.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL ([`PgSettings`]): `DATABASE_URL` or the originals' parts, required; `DB_*`.
    pub db: PgSettings,
    /// MongoDB ([`MongoSettings`]): `MONGODB_URI` or the original's `MONGO_URI`, required;
    /// `MONGODB_*` (on a replica set, `MONGODB_WRITE_CONCERN=majority`).
    pub mongo: MongoSettings,
    /// How tokens are verified: `JWKS_URL` (auth's public keys, EdDSA; `JWKS_*` tuning)
    /// or else `SECRET_KEY` / `JWT_SECRET` (the key auth signs with, HS256), required
    /// then. See `hub_identity::verifier`.
    pub jwt: VerifierConfig,
    /// The `auth-events` consumer: `AMQP_URL` (one or several comma-separated brokers;
    /// or `RABBITMQ_HOST`/`RABBITMQ_PORT`), `RABBITMQ_QUEUE_TYPE` (`classic` or `quorum`),
    /// `CONSUMER_QUEUE` (else `RABBITMQ_QUEUE`, default `auth-events`),
    /// `CONSUMER_DEAD_LETTER_QUEUE` (default `<queue>.dlq`), `CONSUMER_*` tuning.
    pub consumer: ConsumerConfig,
    /// `SESSION_CONSUMER` (default true): consume login events. Off, the service
    /// serves HTTP only.
    pub consume_events: bool,
}

impl ServiceConfig for Config {
    fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            db: PgSettings::from_vars(vars)?,
            mongo: MongoSettings::from_vars(vars)?,
            jwt: VerifierConfig::from_vars(vars)?,
            consumer: ConsumerConfig::from_vars(vars, "session", queues::AUTH_EVENTS)?,
            consume_events: vars.bool_or("SESSION_CONSUMER", true)?,
        })
    }

    /// `MAX_BODY_BYTES` default: 100 KiB, the original's `express.json()` limit.
    fn default_body_limit(&self) -> usize {
        100 * 1024
    }
}
