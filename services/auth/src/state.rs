//! Shared handler state, which is also the service: `lib.rs` implements the skeleton's
//! `Service` on it.

use std::{sync::Arc, time::Duration};

use hub_identity::{issuer::Issuer, pool::HashPool};
use sqlx::PgPool;

/// Cloned into every handler; all fields are cheap handles.
#[derive(Clone)]
pub struct AppState {
    /// The PostgreSQL pool.
    pub pool: PgPool,
    /// Password hashing at the configured cost, off the async workers, bounded.
    pub hashing: HashPool,
    /// Upgrade legacy/weaker hashes after a successful login.
    pub rehash_on_login: bool,
    /// Signs and verifies access tokens, publishes the public keys.
    pub jwt: Issuer,
    /// How long a login's refresh tokens keep working (`REFRESH_TOKEN_TTL_SECS`).
    pub refresh_ttl: Duration,
    /// How long a rotated refresh token, presented again, gets the same successor
    /// (`REFRESH_REUSE_GRACE_SECS`; zero: never).
    pub refresh_grace: Duration,
    /// Brute-force throttle settings.
    pub throttle: crate::config::ThrottleConfig,
    /// The queue events go to (`RABBITMQ_QUEUE`).
    pub queue: Arc<str>,
    /// Refuse logins of accounts whose email is not verified (`REQUIRE_VERIFIED_EMAIL`).
    pub require_verified_email: bool,
    /// Email confirmation codes: lifetime, resend interval, the mail events' queue.
    pub confirmation: Arc<hub_identity::confirmation::Settings>,
    /// The queue of `UserUpdated` (`RABBITMQ_USER_QUEUE`).
    pub user_queue: Arc<str>,
    /// The password policy of change and reset.
    pub password_policy: hub_identity::policy::PasswordPolicy,
    /// Password reset settings.
    pub reset: crate::account::password::ResetConfig,
    /// The queue of the events that ask for a mail (`RABBITMQ_ACCOUNT_QUEUE`, as `confirmation.queue`).
    pub account_queue: Arc<str>,
    /// The queue the images service consumes `UserDeleted` from (`IMAGES_QUEUE`).
    pub images_queue: Arc<str>,
    /// The session and images services, which the export reads (`SESSION_URL`,
    /// `IMAGES_URL`, `EXPORT_TIMEOUT_MS`).
    pub stores: crate::account::export::Stores,
}

impl hub_runtime::http::client_ip::TrustsProxies for AppState {
    fn proxy_trust(&self) -> &hub_runtime::http::client_ip::ProxyTrust {
        &self.throttle.proxies
    }
}
