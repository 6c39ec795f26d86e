//! Every route of the auth service, in one list.

mod login;
mod ops;
mod profile;

use axum::{
    Router,
    http::StatusCode,
    routing::{get, post},
};

use crate::state::AppState;

/// The service's routes (without the shared layers; see `hub_runtime::http::wrap`).
pub fn router(state: AppState, test_endpoints: bool) -> Router {
    let mut router = Router::new()
        .route("/login", post(login::login))
        .route("/profile", get(profile::profile))
        .route("/auth/health", get(ops::health))
        .route("/health", get(ops::health));
    if test_endpoints {
        router = router
            .route("/test-db", get(ops::test_db))
            .route("/test-event", get(ops::test_event));
    }
    router
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(state)
}
