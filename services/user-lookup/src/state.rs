//! Shared handler state.

use sqlx::PgPool;

/// Cloned into every handler; all fields are cheap handles.
#[derive(Clone)]
pub struct AppState {
    /// The PostgreSQL pool.
    pub pool: PgPool,
}
