//! Shared handler state, which is also the service: `lib.rs` implements the skeleton's
//! `Service` on it.

use sqlx::PgPool;

/// Cloned into every handler; all fields are cheap handles.
#[derive(Clone)]
pub struct AppState {
    /// The PostgreSQL pool.
    pub pool: PgPool,
    /// The WS-Security (and Bearer, `crate::bearer`) check, when `WSSE_MODE` is not off.
    pub wsse: Option<hub_soap::wsse::Guard>,
}
