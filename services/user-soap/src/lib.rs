//! user-soap service (port 5002): SOAP user registration, a Rust port of the Sinatra
//! `user-soap-service` (docs/LEGACY.md, user-soap).
//!
//! Endpoints:
//! * `POST /register`: SOAP 1.1 or 1.2. Accepts the legacy envelope (fields in
//!   `http://example.com/user` at any depth) and the WSDL's document/literal form
//!   (the same shape). Success: the original's reply, byte for byte; a taken username,
//!   dni or email: the original's 409 envelope; invalid input: a Client fault naming
//!   the field.
//! * `POST /api/users`: the same registration in JSON for REST front-ends (201
//!   `{"id","message"}`, 409/400 `{"error","field"}`), described at `GET /openapi.json`;
//!   with `WSSE_MODE` on, the SOAP door's credentials as HTTP Basic (401/403 `{"error"}`).
//! * `GET /register?wsdl`: the contract (`wsdl/user-soap.wsdl`) with the public address.
//! * `GET /user-soap/health`, `GET /health`.
//!
//! Data: inserts into the shared `"user"` table (password in the current PHC format,
//! so the user can log in through auth). Events: `UserRegistered` (same transaction
//! as the insert) and `UserRegistrationFailed` go through the outbox to the durable
//! queue `user-events`; `EmailVerificationRequested` (same transaction, with the code's
//! row in `email_confirmation`) to `account-events`, for notifications. Consumes nothing.

pub mod config;
pub mod error;
pub mod look_alike;
pub mod registration;
pub mod routes;
pub mod state;
pub mod store;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, http::HeaderMap};
use hub_identity::pool::HashPool;
use hub_runtime::{
    http::ErrorRenderer,
    service::{self, Entry, Task},
};
use tokio_util::sync::CancellationToken;

pub use crate::config::Config;
/// The user-soap service, as the runtime's skeleton runs it: its state.
pub use crate::state::AppState as UserSoap;

impl service::Service for UserSoap {
    const ENTRY: Entry = Entry::soap("user-soap", 5002, "/user-soap/health", routes::HEALTH);
    type Config = Config;

    /// SOAP Faults, except for a request that declares a JSON body (`POST /api/users`),
    /// whose framework-made errors (413, timeout, ...) answer `{"error"}` like its own.
    fn renderer() -> ErrorRenderer {
        let soap = hub_soap::fault::renderer();
        let json = hub_runtime::http::json_renderer(routes::api::ERROR_KEY);
        Arc::new(move |headers: &HeaderMap, status, message: &str| {
            if hub_runtime::http::declares_json(headers) {
                json(headers, status, message)
            } else {
                soap(headers, status, message)
            }
        })
    }

    /// Connects (waiting for PostgreSQL up to its start-up timeout), migrates, and fills
    /// the look-alike keys of older users before serving (see [`fill_skeletons`]).
    async fn connect(config: &Config) -> anyhow::Result<Self> {
        config.proxies.warn_if_deprecated();
        let pool = config.db.connect(Self::NAME).await?;
        fill_skeletons(&pool).await;
        let proxies = Arc::new(config.proxies.clone());
        Ok(Self {
            wsse: config.wsse.guard(
                Arc::new(hub_soap_pg::PgNonces::new(pool.clone())),
                None,
                proxies.clone(),
            ),
            pool,
            hashing: HashPool::new(config.hashing),
            queue: config.queue.as_str().into(),
            register_limit: config.register_limit,
            password_policy: config.password_policy.clone(),
            duplicate_reply: config.duplicate_reply,
            confirmation: Arc::new(config.confirmation.clone()),
            proxies,
        })
    }

    fn router(self, config: &Config, local: SocketAddr) -> Router {
        let wsdl = hub_soap::wsdl::Address::new(config.public_base_url.as_deref(), local);
        let guard = self.wsse.clone();
        hub_soap::wsse::install(routes::router(self, wsdl), guard)
    }

    /// The outbox relay, the pruning of old registration counters, the look-alike keys
    /// of rows older writers insert, and, with WS-Security on, the pruning of old nonces.
    fn tasks(&self, config: &Config, shutdown: &CancellationToken) -> Vec<Task> {
        let keep = config.register_limit.window;
        let mut tasks = vec![
            Box::pin(hub_events::relay::run(
                self.pool.clone(),
                config.relay.clone(),
                shutdown.clone(),
            )),
            service::every(
                Duration::from_secs(300),
                shutdown.clone(),
                hub_db::chore_on(
                    self.pool.clone(),
                    "registration throttle prune",
                    move |pool: sqlx::PgPool| async move {
                        store::throttle::prune(&mut *pool.acquire().await?, keep).await
                    },
                ),
            ),
            service::every(
                FILL_SKELETONS_EVERY,
                shutdown.clone(),
                hub_db::chore_on(
                    self.pool.clone(),
                    "username look-alike keys",
                    |pool: sqlx::PgPool| async move { store::users::fill_skeletons(&pool).await },
                ),
            ),
        ];
        tasks.extend(self.wsse.as_ref().map(|g| g.prune_task(shutdown.clone())));
        tasks
    }

    /// PostgreSQL answers (the driver's message is not repeated).
    async fn down(&self) -> Option<String> {
        service::unavailable(&[("PostgreSQL", hub_db::healthy(&self.pool).await)])
    }

    async fn close(self) {
        self.pool.close().await;
    }
}

/// How often each instance fills the look-alike keys of rows written without one (by an
/// original service or an older release still running): until then, registration
/// computes them in its check.
const FILL_SKELETONS_EVERY: Duration = Duration::from_secs(60);

/// Fills the look-alike keys of rows written before the migration `username_skeleton`
/// (once, on the first start after it: about the time of reading every username), so
/// that registration's check of such rows stays an index lookup. Not fatal: on failure
/// the registration check computes the missing keys itself, and the periodic chore
/// tries again.
async fn fill_skeletons(pool: &sqlx::PgPool) {
    match store::users::fill_skeletons(pool).await {
        Ok(0) => {}
        Ok(rows) => tracing::info!(rows, "filled the look-alike keys of older users"),
        Err(e) => {
            tracing::warn!(error = %e, "filling the look-alike keys of older users failed; retried every minute")
        }
    }
}
