//! Shared handler state.

use hub_identity::jwt::JwtKeys;
use sqlx::PgPool;

use crate::store::sessions::Sessions;

/// Cloned into every handler; all fields are cheap handles.
#[derive(Clone)]
pub struct AppState {
    /// The PostgreSQL pool (the shared `"user"` table).
    pub pool: PgPool,
    /// The MongoDB `sessions` collection.
    pub sessions: Sessions,
    /// JWT verification keys.
    pub jwt: JwtKeys,
    /// The MongoDB database (its client is closed at shutdown).
    pub mongo: mongodb::Database,
}
