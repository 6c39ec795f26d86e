//! Connected service (port 5020): when did a user last connect, a Rust port of the
//! Express `connected-service` (shared/originals.md §3.6).
//!
//! Endpoints:
//! * `GET /last-connection?username=<name>` → 200 `{"userId","lastConnection","lastConnectionAt"}`
//!   (`lastConnection` worded exactly as moment 2.30's `fromNow()`, see [`relative_time`]);
//!   400 / 404 / 500 `{"error"}` with the original's texts; 503 when a database is down.
//! * `GET /connected/health`, `GET /health`: both databases answer, or 500 unhealthy.
//! * `GET /openapi.json`: the OpenAPI document, generated from the routes ([`routes`]).
//!
//! Data: reads the shared PostgreSQL `"user"` table (the id for a username) and the
//! MongoDB `sessions` collection the session service writes (the most recent login of
//! that id: `lastLoginAt`, else `updatedAt`, else `createdAt`). Writes nothing,
//! publishes and consumes no events.

pub mod config;
pub mod error;
pub mod relative_time;
pub mod routes;
pub mod state;
pub mod store;

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use hub_runtime::{http, service};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use crate::config::Config;
use crate::state::AppState;

/// A built service: databases reached, schema migrated, listener bound, not yet serving.
pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
    mongo: mongodb::Client,
    config: Config,
}

impl App {
    /// Waits for PostgreSQL (migrating it) and MongoDB, each up to its start-up
    /// timeout, then binds. Later outages need no restart: both clients reconnect.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = hub_db::pool(&config.database_url, &config.pool, "connected")?;
        let (mongo, db) = hub_mongo::connect(&config.mongo, "connected").await?;
        let (migrated, ready) = tokio::join!(
            hub_db::migrate(&pool, config.pool.startup_timeout),
            hub_mongo::wait_ready(&db, config.mongo.startup_timeout),
        );
        migrated?;
        ready?;
        let state = AppState {
            pool,
            sessions: db.collection(store::sessions::COLLECTION),
            mongo: db,
            mongo_timeout: config.mongo.operation_timeout,
        };
        let router = http::wrap(
            routes::router(state.clone()),
            &config.http,
            http::json_renderer("error"),
        );
        let listener = http::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        Ok(Self {
            listener,
            router,
            state,
            mongo,
            config,
        })
    }

    /// The address actually bound (the real port when `PORT=0`).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves requests until `shutdown` is cancelled, drains them, closes both clients.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let drain = self.config.http.drain_timeout;
        let served = service::serve(
            "connected",
            self.listener,
            self.router,
            shutdown,
            drain,
            Vec::new(),
        )
        .await;
        self.state.pool.close().await;
        // Immediate: the drain is over, so no operation is in flight to wait for.
        self.mongo.shutdown().immediate(true).await;
        tracing::info!("shutdown complete");
        served
    }
}
