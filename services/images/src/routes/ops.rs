//! Health.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::state::AppState;

/// `GET /profile-image/health` and `/health`: 200 `{"status":"healthy"}` when the
/// bucket answers `HeadBucket` (a bucket that vanished is put back first), else 500
/// `{"error","status":"unhealthy"}` as the original, without S3's message.
#[utoipa::path(get, path = "/profile-image/health", responses(
    (status = 200, description = "`{\"status\":\"healthy\"}`: the bucket answers"),
    (status = 500, description = "`{\"error\":\"storage unavailable\",\"status\":\"unhealthy\"}`"),
))]
pub async fn health(State(state): State<AppState>) -> Response {
    match state.store.check().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "healthy" }))),
        Err(e) => {
            tracing::warn!(error = %e, "health check: S3 unavailable");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": "storage unavailable", "status": "unhealthy" })),
            )
        }
    }
    .into_response()
}

/// `GET /health`: the same check as [`health`], at the path every service shares.
#[utoipa::path(get, path = "/health", responses(
    (status = 200, description = "`{\"status\":\"healthy\"}`: the bucket answers"),
    (status = 500, description = "`{\"error\":\"storage unavailable\",\"status\":\"unhealthy\"}`"),
))]
pub async fn health_alias(state: State<AppState>) -> Response {
    health(state).await
}
