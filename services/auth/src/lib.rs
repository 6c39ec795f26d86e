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
use hub_identity::{jwt::JwtKeys, password::Hasher, pool::HashPool};
use hub_runtime::http;
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
    /// Connects (waiting for PostgreSQL up to `db_startup_timeout`), migrates, binds.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = hub_db::pool(&config.database_url, &config.pool, "auth")?;
        hub_db::migrate(&pool, config.db_startup_timeout).await?;
        let hasher = Hasher::new(config.pbkdf2_iterations).context("PASSWORD_PBKDF2_ITERATIONS")?;
        let state = AppState {
            pool,
            hashing: HashPool::new(hasher, config.hashing_concurrency),
            rehash_on_login: config.rehash_on_login,
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
        tracing::info!(addr = %self.local_addr()?, "auth listening");
        let served = http::serve(
            self.listener,
            self.router,
            shutdown.clone(),
            self.config.http.drain_timeout,
        )
        .await;
        shutdown.cancel();
        if relay.await.is_err() {
            tracing::error!("outbox relay task panicked");
        }
        self.state.pool.close().await;
        tracing::info!("shutdown complete");
        served.context("HTTP server failed")
    }
}
