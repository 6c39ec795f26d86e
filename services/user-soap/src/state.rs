//! Shared handler state, which is also the service: `lib.rs` implements the skeleton's
//! `Service` on it.

use std::sync::Arc;

use hub_identity::pool::HashPool;
use sqlx::PgPool;

/// Cloned into every handler; all fields are cheap handles.
#[derive(Clone)]
pub struct AppState {
    /// The PostgreSQL pool.
    pub pool: PgPool,
    /// Password hashing, off the async workers, bounded.
    pub hashing: HashPool,
    /// The queue events go to (`RABBITMQ_QUEUE`).
    pub queue: Arc<str>,
    /// Registrations per client address.
    pub register_limit: crate::store::throttle::Limit,
    /// How a duplicate registration is answered.
    pub duplicate_reply: crate::config::DuplicateReply,
    /// Whose forwarding headers name the client.
    pub proxies: Arc<hub_runtime::http::client_ip::ProxyTrust>,
    /// The email verification codes registration mails (`EMAIL_CODE_*`,
    /// `RABBITMQ_ACCOUNT_QUEUE`).
    pub confirmation: Arc<hub_identity::confirmation::Settings>,
    /// The WS-Security check, when `WSSE_MODE` is not off.
    pub wsse: Option<hub_soap::wsse::Guard>,
    /// The password policy every registration meets.
    pub password_policy: hub_identity::policy::PasswordPolicy,
}

impl hub_runtime::http::client_ip::TrustsProxies for AppState {
    fn proxy_trust(&self) -> &hub_runtime::http::client_ip::ProxyTrust {
        &self.proxies
    }
}
