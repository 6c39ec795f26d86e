//! Auth service (port 5001): login, profile and JWT, a Rust port of the Flask
//! `auth-service` (docs/LEGACY.md, auth).
//!
//! Endpoints:
//! * `POST /login` `{"username": <username or email>, "password"}` → 200
//!   `{"token","refresh_token"}` or 401 `{"message":"Invalid credentials"}`.
//! * `POST /token/refresh` `{"refresh_token"}` → 200 `{"token","refresh_token"}` (the
//!   one presented is used up; presenting it again revokes the login) or 401.
//! * `POST /logout` with `Authorization: Bearer <jwt>` → 200: the login's tokens revoked.
//! * `GET /profile` with `Authorization: Bearer <jwt>` → 200 `{"email","user_id","username"}`;
//!   403 / 401 / 404 `{"message"}` as the original; 401 for a revoked token.
//! * `GET /.well-known/jwks.json`: the public keys, when signing with EdDSA.
//! * `GET /test-db`, `GET /test-event` (diagnostics, can be turned off), `GET /auth/health`, `GET /health`.
//!
//! Data: reads the shared `"user"` table; writes `"user".password` only to upgrade a
//! legacy hash after a successful login, and `"user".tokens_valid_after` to revoke all
//! of a user's tokens (`auth tokens revoke`); owns `token_family` and `refresh_token`. Events: `UserLoggedIn`, `UserLoginFailed`
//! and `TestEvent` go to the outbox table, and the relay running inside this service
//! publishes them to the durable queue `auth-events`. Consumes nothing.

pub mod admin;
pub mod config;
pub mod error;
pub mod login;
pub mod routes;
pub mod state;
pub mod store;
pub mod tokens;

use std::{net::SocketAddr, time::Duration};

use axum::Router;
use hub_identity::pool::HashPool;
use hub_runtime::{
    http::JsonError as _,
    service::{self, Entry, Task},
};
use tokio_util::sync::CancellationToken;

pub use crate::config::Config;
use crate::{error::ApiError, state::AppState};

/// The auth service, as the runtime's skeleton runs it.
pub struct Auth;

impl service::Service for Auth {
    const ENTRY: Entry = Entry::flask("auth", 5001, "/auth/health", ApiError::KEY);
    type Config = Config;
    type State = AppState;

    /// Connects (waiting for PostgreSQL up to its start-up timeout) and migrates.
    async fn state(config: &Config) -> anyhow::Result<AppState> {
        config.throttle.proxies.warn_if_deprecated();
        let pool = config.db.connect(Self::NAME).await?;
        Ok(AppState {
            pool,
            hashing: HashPool::new(config.hashing),
            rehash_on_login: config.rehash_on_login,
            throttle: config.throttle.clone(),
            jwt: config.jwt.clone(),
            refresh_ttl: config.refresh_ttl,
            queue: config.queue.as_str().into(),
        })
    }

    fn router(config: &Config, state: AppState, _local: SocketAddr) -> Router {
        routes::router(state, config.test_endpoints)
    }

    /// The outbox relay, and the pruning of old throttle rows.
    fn tasks(config: &Config, state: &AppState, shutdown: &CancellationToken) -> Vec<Task> {
        vec![
            Box::pin(hub_events::relay::run(
                state.pool.clone(),
                config.relay.clone(),
                shutdown.clone(),
            )),
            prune_throttle(state.pool.clone(), &config.throttle, shutdown.clone()),
            prune_token_families(state.pool.clone(), config.jwt.ttl(), shutdown.clone()),
        ]
    }

    /// PostgreSQL answers (the driver's message is not repeated). RabbitMQ is not
    /// checked: logins work without it (the relay catches up).
    async fn down(state: &AppState) -> Option<&'static str> {
        (!hub_db::healthy(&state.pool).await).then_some("database unavailable")
    }

    async fn close(state: AppState) {
        state.pool.close().await;
    }
}

/// Every ten minutes, deletes token families expired or revoked longer than an access
/// token lives (any instance may do it; the statement is idempotent).
fn prune_token_families(pool: sqlx::PgPool, ttl: Duration, shutdown: CancellationToken) -> Task {
    hub_db::every(
        pool,
        Duration::from_secs(600),
        shutdown,
        "token family prune",
        Box::new(move |conn| Box::pin(store::tokens::prune(conn, ttl))),
    )
}

/// Every five minutes, deletes throttle rows that no longer count (any instance may do
/// it; the statement is idempotent).
fn prune_throttle(
    pool: sqlx::PgPool,
    throttle: &config::ThrottleConfig,
    shutdown: CancellationToken,
) -> Task {
    let keep = throttle.per_user.window.max(throttle.per_user.lockout);
    hub_db::every(
        pool,
        Duration::from_secs(300),
        shutdown,
        "login throttle prune",
        Box::new(move |conn| Box::pin(store::throttle::prune(conn, keep))),
    )
}
