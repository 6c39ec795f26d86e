//! Shared handler state, which is also the service: `lib.rs` implements the skeleton's
//! `Service` on it.

use hub_identity::verifier::Verifier;
use sqlx::PgPool;

/// Cloned into every handler; all fields are cheap handles.
#[derive(Clone)]
pub struct AppState {
    /// The PostgreSQL pool.
    pub pool: PgPool,
    /// The WS-Security (and Bearer) check, when `WSSE_MODE` is not off.
    pub wsse: Option<hub_soap::wsse::Guard>,
    /// The verifier of Bearer tokens, when they are accepted (`LOOKUP_ACCEPT_BEARER`):
    /// the guard's, shared, to read a token it accepted and check its revocation
    /// (`routes::bearer`).
    pub bearer: Option<Verifier>,
}
