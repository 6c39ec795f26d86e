//! Shared handler state.

use std::sync::Arc;

use sqlx::PgPool;

/// Cloned into every handler; all fields are cheap handles.
#[derive(Clone)]
pub struct AppState {
    /// The PostgreSQL pool.
    pub pool: PgPool,
    /// `PUBLIC_BASE_URL`, if configured.
    pub public_base_url: Option<Arc<str>>,
    /// The bound address, the last resort for the WSDL's address.
    pub local_host: Arc<str>,
}
