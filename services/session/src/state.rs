//! Shared handler state, which is also the service: `lib.rs` implements the skeleton's
//! `Service` on it.

use hub_identity::verifier::Verifier;
use sqlx::PgPool;

use crate::store::sessions::Sessions;

/// Cloned into every handler; all fields are cheap handles.
#[derive(Clone)]
pub struct AppState {
    /// The PostgreSQL pool (the shared `"user"` table).
    pub pool: PgPool,
    /// The MongoDB `sessions` collection.
    pub sessions: Sessions,
    /// Token verification (HS256 or auth's JWKS).
    pub jwt: Verifier,
    /// The MongoDB database (its client is closed at shutdown).
    pub mongo: mongodb::Database,
}
