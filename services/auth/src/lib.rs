//! Auth service (port 5001): login, profile and JWT, a Rust port of the Flask
//! `auth-service` (shared/originals.md §3.1).
//!
//! Endpoints:
//! * `POST /login` `{"username": <username or email>, "password"}` → 200 `{"token"}`
//!   or 401 `{"message":"Invalid credentials"}`.
//! * `GET /profile` with `Authorization: Bearer <jwt>` → 200 `{"email","user_id","username"}`;
//!   403 / 401 / 404 `{"message"}` as the original.
//! * `GET /test-db`, `GET /test-event` (diagnostics, can be turned off), `GET /auth/health`, `GET /health`.
//!
//! Data: reads the shared `"user"` table; writes `"user".password` only to upgrade a
//! legacy hash after a successful login. Events: `UserLoggedIn`, `UserLoginFailed`
//! and `TestEvent` go to the outbox table, and the relay running inside this service
//! publishes them to the durable queue `auth-events`. Consumes nothing.

pub mod config;
pub mod error;
pub mod routes;
pub mod state;
pub mod store;

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use hub_identity::{jwt::JwtKeys, pool::HashPool};
use hub_runtime::{http, service};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use crate::config::Config;
use crate::state::AppState;

/// A built service: database migrated, listener bound, not yet serving.
pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
    config: Config,
}

impl App {
    /// Connects (waiting for PostgreSQL up to its start-up timeout), migrates, binds.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = hub_db::pool(&config.database_url, &config.pool, "auth")?;
        hub_db::migrate(&pool, config.pool.startup_timeout).await?;
        let state = AppState {
            pool,
            hashing: HashPool::new(config.hashing),
            rehash_on_login: config.rehash_on_login,
            throttle: config.throttle,
            jwt: JwtKeys::new(&config.jwt_secret, config.token_ttl),
            queue: config.queue.as_str().into(),
        };
        let router = http::wrap(
            routes::router(state.clone(), config.test_endpoints),
            &config.http,
            http::json_renderer("message"),
        );
        let listener = http::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        Ok(Self {
            listener,
            router,
            state,
            config,
        })
    }

    /// The address actually bound (the real port when `PORT=0`).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves requests and relays the outbox until `shutdown` is cancelled, then
    /// drains requests, stops the relay after its batch in hand and closes the pool.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let relay = tokio::spawn(hub_events::relay::run(
            self.state.pool.clone(),
            self.config.relay.clone(),
            shutdown.clone(),
        ));
        let prune = tokio::spawn(prune_throttle(
            self.state.pool.clone(),
            self.config.throttle,
            shutdown.clone(),
        ));
        let drain = self.config.http.drain_timeout;
        let served = service::serve(
            "auth",
            self.listener,
            self.router,
            shutdown,
            drain,
            vec![relay, prune],
        )
        .await;
        self.state.pool.close().await;
        tracing::info!("shutdown complete");
        served
    }
}

/// Every five minutes, deletes throttle rows that no longer count (any instance may do
/// it; the statement is idempotent).
async fn prune_throttle(
    pool: sqlx::PgPool,
    throttle: config::ThrottleConfig,
    shutdown: CancellationToken,
) {
    let keep = throttle.per_user.window.max(throttle.per_user.lockout);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(300)) => {}
        }
        let pruned = match pool.acquire().await {
            Ok(mut conn) => store::throttle::prune(&mut conn, keep).await,
            Err(e) => Err(e),
        };
        if let Err(e) = pruned {
            tracing::debug!(error = %e, "login throttle prune failed");
        }
    }
}
