//! Connected service (port 5020): when did a user last connect, a Rust port of the
//! Express `connected-service` (docs/LEGACY.md, connected).
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

use axum::Router;
use hub_runtime::service::{self, Entry};

pub use crate::config::Config;
use crate::error::ApiError;
/// The connected service, as the runtime's skeleton runs it: its state.
pub use crate::state::AppState as Connected;

impl service::Service for Connected {
    const ENTRY: Entry = Entry::express::<ApiError>("connected", 5020, "/connected/health");
    type Config = Config;

    /// Waits for PostgreSQL (migrating it) and MongoDB, each up to its start-up
    /// timeout. Later outages need no restart: both clients reconnect.
    async fn connect(config: &Config) -> anyhow::Result<Self> {
        let (_client, db) = hub_mongo::connect(&config.mongo, Self::NAME).await?;
        let (pool, ready) = tokio::join!(
            config.db.connect(Self::NAME),
            hub_mongo::wait_ready(&db, config.mongo.startup_timeout),
        );
        let pool = pool?;
        ready?;
        Ok(Self {
            pool,
            sessions: db.collection(store::sessions::COLLECTION),
            mongo: db,
            mongo_timeout: config.mongo.operation_timeout,
        })
    }

    fn router(self, _config: &Config, _local: SocketAddr) -> Router {
        routes::router(self)
    }

    /// PostgreSQL (`SELECT 1`) and MongoDB (`ping`) both answer, checked at once:
    /// MongoDB within the operation timeout, PostgreSQL within the pool's acquire and
    /// statement timeouts. What is down is named without the driver's message.
    async fn down(&self) -> Option<String> {
        let (pg, mongo) = tokio::join!(
            hub_db::healthy(&self.pool),
            hub_mongo::healthy(&self.mongo, self.mongo_timeout),
        );
        service::unavailable(&[("PostgreSQL", pg), ("MongoDB", mongo)])
    }

    async fn close(self) {
        self.pool.close().await;
        hub_mongo::close(&self.mongo).await;
    }
}
