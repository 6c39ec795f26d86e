//! Session service (port 5004): one session document per user in MongoDB, a Rust
//! port of the Express `session-service` (docs/LEGACY.md, session), bugs fixed.
//!
//! Endpoints (all but health need `Authorization: Bearer <jwt>` from auth; 403
//! `{"message":"No token provided"}` without one, 401 `{"message":"Invalid or expired token"}`
//! for a bad one, 401 `{"message":"User not found"}` if its user is gone from `"user"`):
//! * `POST /api/sessions` `{"data"}` → 201 created / 200 updated `{"message","session"}`.
//! * `GET /api/sessions/verify` → 200 `{"message":"Session is valid","userId","session"}`.
//! * `GET`, `PUT` (`{"data":{"text"}}`), `DELETE /api/sessions/{userId}`: the caller's own
//!   session only (403 for anyone else's).
//! * `GET /session/health`, `GET /health`: MongoDB and PostgreSQL checked.
//! * `GET /openapi.json`: the OpenAPI document, generated from the routes ([`routes`]).
//!
//! Data: MongoDB `sessions` (`userId`, `data`, `createdAt`, `updatedAt`, `__v`, plus
//! `lastLoginAt` and `loginEventIds`), unique index on `userId`; reads `"user"` in
//! PostgreSQL. Events: consumes `UserLoggedIn` from `auth-events` (idempotent on the
//! message id, poison messages to `auth-events.dlq`) and records `lastLoginAt`; consumes
//! `UserDeleted` from the same queue and deletes the user's session documents.
//! Publishes nothing.

pub mod config;
pub mod error;
pub mod events;
pub mod routes;
pub mod state;
pub mod store;

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use hub_identity::verifier::Verifier;
use hub_runtime::service::{self, Entry, Task};
use tokio_util::sync::CancellationToken;

pub use crate::config::Config;
/// The session service, as the runtime's skeleton runs it: its state.
pub use crate::state::AppState as Session;
use crate::{
    error::ApiError,
    store::sessions::{IndexOutcome, Sessions},
};

impl service::Service for Session {
    const ENTRY: Entry = Entry::express::<ApiError>("session", 5004, "/session/health");
    type Config = Config;

    /// Connects to PostgreSQL (migrating) and MongoDB (each waiting up to its start-up
    /// timeout), ensures the unique `userId` index.
    async fn connect(config: &Config) -> anyhow::Result<Self> {
        let pool = config.db.connect(Self::NAME).await?;
        let (_client, db) = hub_mongo::connect(&config.mongo, Self::NAME).await?;
        hub_mongo::wait_ready(&db, config.mongo.startup_timeout).await?;
        let sessions = Sessions::new(&db, config.mongo.operation_timeout);
        match sessions
            .ensure_unique_user_index()
            .await
            .context("cannot create the unique index on sessions.userId")?
        {
            IndexOutcome::Created => {}
            // Legacy data (the original had no index) may hold several documents for one
            // user. Refusing to start would take the service down over old rows; serving
            // without the index only loses the protection against concurrent duplicate
            // creation. The fix is an operator's (docs/COMPATIBILITY.md), then a restart.
            IndexOutcome::DuplicateUsers => tracing::error!(
                collection = store::sessions::COLLECTION,
                "sessions holds several documents for the same userId, so the unique index on \
                 userId was NOT created; serving anyway. Merge or delete the duplicates and \
                 restart (see docs/COMPATIBILITY.md, session)"
            ),
            IndexOutcome::OtherIndexExists => tracing::warn!(
                collection = store::sessions::COLLECTION,
                "an index on sessions.userId already exists with another name or options; \
                 keeping it (if it is not unique, duplicates stay possible)"
            ),
        }
        Ok(Self {
            pool,
            sessions,
            jwt: Verifier::new(&config.jwt)?,
            mongo: db,
        })
    }

    fn router(self, _config: &Config, _local: SocketAddr) -> Router {
        routes::router(self)
    }

    /// The `auth-events` consumer that records logins, unless turned off.
    fn tasks(&self, config: &Config, shutdown: &CancellationToken) -> Vec<Task> {
        if !config.consume_events {
            return Vec::new();
        }
        vec![Box::pin(hub_events::consumer::run(
            config.consumer.clone(),
            events::LoginRecorder {
                sessions: self.sessions.clone(),
                pool: self.pool.clone(),
            },
            shutdown.clone(),
        ))]
    }

    /// MongoDB and PostgreSQL both answer (the original answered healthy without
    /// checking anything), checked at once: MongoDB within the operation timeout,
    /// PostgreSQL within the pool's acquire and statement timeouts. What is down is
    /// named without the driver's message.
    async fn down(&self) -> Option<String> {
        let (mongo, pg) = tokio::join!(self.sessions.healthy(), hub_db::healthy(&self.pool));
        service::unavailable(&[("MongoDB", mongo), ("PostgreSQL", pg)])
    }

    /// Closes the pool and the MongoDB client (which the original never closed).
    async fn close(self) {
        self.pool.close().await;
        hub_mongo::close(&self.mongo).await;
    }
}
