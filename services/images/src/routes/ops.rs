//! Health.

use axum::{extract::State, response::Response};
use hub_runtime::http::{KeyOrder, health_json};

use crate::state::AppState;

/// `GET /profile-image/health` and `/health`: 200 `{"status":"healthy"}` when the
/// bucket answers `HeadBucket` (a bucket that vanished is put back first), else 500
/// `{"error","status":"unhealthy"}` as the original, without S3's message.
#[utoipa::path(get, path = "/profile-image/health", responses(
    (status = 200, description = "`{\"status\":\"healthy\"}`: the bucket answers"),
    (status = 500, description = "`{\"error\":\"storage unavailable\",\"status\":\"unhealthy\"}`"),
))]
pub async fn health(State(state): State<AppState>) -> Response {
    health_json(down(&state).await, KeyOrder::Sorted)
}

/// What is down, if anything: the check of the health paths and of `/readyz`.
pub(crate) async fn down(state: &AppState) -> Option<&'static str> {
    match state.store.check().await {
        Ok(()) => None,
        Err(e) => {
            tracing::warn!(error = %e, "health check: S3 unavailable");
            Some("storage unavailable")
        }
    }
}

/// `GET /health`: the same check as [`health`], at the path every service shares.
#[utoipa::path(get, path = "/health", responses(
    (status = 200, description = "`{\"status\":\"healthy\"}`: the bucket answers"),
    (status = 500, description = "`{\"error\":\"storage unavailable\",\"status\":\"unhealthy\"}`"),
))]
pub async fn health_alias(state: State<AppState>) -> Response {
    health(state).await
}
