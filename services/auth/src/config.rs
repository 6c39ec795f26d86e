//! Auth configuration, read once from the environment at start-up.

use std::time::Duration;

use crate::store::throttle::Limit;

use hub_db::PgSettings;
use hub_events::{catalogue::queues, relay::RelayConfig};
use hub_identity::{issuer::Issuer, pool::HashSettings};
use hub_runtime::{
    config::{ConfigError, Vars},
    http::client_ip::ProxyTrust,
    service::ServiceConfig,
};

/// What the service reads besides the skeleton's HTTP settings
/// ([`Settings`](hub_runtime::service::Settings)); each field names its variable and default.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL ([`PgSettings`]): `DATABASE_URL` or the originals' parts, required; `DB_*`.
    pub db: PgSettings,
    /// Access tokens: `JWT_ALGORITHM` (`HS256` with `SECRET_KEY` or `JWT_SECRET`, the
    /// default while no signing key is set; or `EdDSA` with `JWT_SIGNING_KEY` and
    /// `JWT_ADDITIONAL_PUBLIC_KEYS`), `JWT_TTL_SECS` (default 3600, the original's hour).
    /// See `hub_identity::issuer`.
    pub jwt: Issuer,
    /// `REFRESH_TOKEN_TTL_SECS` (default 1 209 600, 14 days): how long after a login its
    /// refresh tokens keep working; then the user logs in again.
    pub refresh_ttl: Duration,
    /// `PASSWORD_PBKDF2_ITERATIONS` (default 600 000), `HASHING_CONCURRENCY` (default: CPUs).
    pub hashing: HashSettings,
    /// `PASSWORD_REHASH_ON_LOGIN` (default true): replace a legacy or weaker hash after
    /// a successful login. Turn off while an original service that only knows the legacy
    /// format still reads the same table.
    pub rehash_on_login: bool,
    /// Brute-force throttle (`LOGIN_*`, `TRUSTED_PROXIES`).
    pub throttle: ThrottleConfig,
    /// `RABBITMQ_QUEUE` (default `auth-events`).
    pub queue: String,
    /// `AUTH_TEST_ENDPOINTS` (default true, as the original): serve `/test-db` and `/test-event`.
    pub test_endpoints: bool,
    /// Outbox relay settings (`AMQP_URL` or `RABBITMQ_HOST`/`RABBITMQ_PORT`, `OUTBOX_*`).
    pub relay: RelayConfig,
}

impl ServiceConfig for Config {
    fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            db: PgSettings::from_vars(vars)?,
            jwt: Issuer::from_vars(vars)?,
            refresh_ttl: vars.seconds_or(
                "REFRESH_TOKEN_TTL_SECS",
                Duration::from_secs(14 * 24 * 3600),
            )?,
            hashing: HashSettings::from_vars(vars)?,
            rehash_on_login: vars.bool_or("PASSWORD_REHASH_ON_LOGIN", true)?,
            throttle: ThrottleConfig::from_vars(vars)?,
            queue: vars.string_or("RABBITMQ_QUEUE", queues::AUTH_EVENTS),
            test_endpoints: vars.bool_or("AUTH_TEST_ENDPOINTS", true)?,
            relay: RelayConfig::from_vars(vars, "auth")?,
        })
    }
}

/// Login brute-force throttling: attempts are counted per account (a username and its
/// email are one account), per login string and per client address in PostgreSQL, so
/// every instance agrees; each is reserved before the password check, atomically with
/// the limit (see `store::throttle`). A key at its limit gets 429 with `Retry-After`
/// until its lockout ends. Other users' logins are unaffected unless they share the
/// blocked address.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    /// `LOGIN_MAX_FAILURES_PER_USER` (default 5) within the window, per account and per
    /// login string.
    pub per_user: Limit,
    /// `LOGIN_MAX_FAILURES_PER_ADDRESS` (default 50) within the window.
    pub per_address: Limit,
    /// Whose forwarding headers name the client (`TRUSTED_PROXIES`,
    /// `CLIENT_ADDRESS_HEADER`, deprecated `TRUST_FORWARDED_FOR`); by default none,
    /// and the peer address is the client.
    pub proxies: ProxyTrust,
}

impl ThrottleConfig {
    /// Reads `LOGIN_MAX_FAILURES_PER_USER`, `LOGIN_MAX_FAILURES_PER_ADDRESS`,
    /// `LOGIN_FAILURE_WINDOW_SECS` (default 900), `LOGIN_LOCKOUT_SECS` (default 900) and
    /// the proxy settings.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let window = vars.seconds_or("LOGIN_FAILURE_WINDOW_SECS", Duration::from_secs(900))?;
        let lockout = vars.seconds_or("LOGIN_LOCKOUT_SECS", Duration::from_secs(900))?;
        let limit = |name: &'static str, default: i32| -> Result<Limit, ConfigError> {
            Ok(Limit {
                max_failures: vars.positive_or(name, default)?,
                window,
                lockout,
            })
        };
        Ok(Self {
            per_user: limit("LOGIN_MAX_FAILURES_PER_USER", 5)?,
            per_address: limit("LOGIN_MAX_FAILURES_PER_ADDRESS", 50)?,
            proxies: ProxyTrust::from_vars(vars)?,
        })
    }
}
