//! Shared handler state, which is also the service: `lib.rs` implements the skeleton's
//! `Service` on it.

use std::time::Duration;

use mongodb::{Collection, Database};
use sqlx::PgPool;

use crate::store::sessions::Session;

/// Cloned into every handler; all fields are cheap handles.
#[derive(Clone)]
pub struct AppState {
    /// The PostgreSQL pool (the shared `"user"` table).
    pub pool: PgPool,
    /// The MongoDB database (for the health ping).
    pub mongo: Database,
    /// The `sessions` collection, written by the session service.
    pub sessions: Collection<Session>,
    /// Bound on each MongoDB query, and on each health ping
    /// (`MONGODB_OPERATION_TIMEOUT_MS`).
    pub mongo_timeout: Duration,
}
