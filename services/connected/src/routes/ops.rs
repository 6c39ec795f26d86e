//! Health.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::state::AppState;

/// `GET /connected/health` and `/health`: 200 `{"status":"healthy"}` when PostgreSQL
/// (`SELECT 1`) and MongoDB (`ping`) both answer, as the original; else 500
/// `{"status":"unhealthy","error"}` naming which one is down, without the driver's
/// message (it leaked internals). Both checks run at once, each bounded.
#[utoipa::path(get, path = "/connected/health", responses(
    (status = 200, description = "`{\"status\":\"healthy\"}`: PostgreSQL and MongoDB answer"),
    (status = 500, description = "`{\"status\":\"unhealthy\",\"error\"}`, `error` naming what is down"),
))]
pub async fn health(State(state): State<AppState>) -> Response {
    let bound = state.mongo_timeout;
    let (pg, mongo) = tokio::join!(
        tokio::time::timeout(bound, hub_db::ping(&state.pool)),
        tokio::time::timeout(bound, hub_mongo::ping(&state.mongo)),
    );
    let pg_ok = match pg {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: PostgreSQL unavailable");
            false
        }
        Err(_) => {
            tracing::warn!("health check: PostgreSQL timed out");
            false
        }
    };
    let mongo_ok = match mongo {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error.kind = %hub_mongo::kind_name(&e), "health check: MongoDB unavailable");
            false
        }
        Err(_) => {
            tracing::warn!("health check: MongoDB timed out");
            false
        }
    };
    let error = match (pg_ok, mongo_ok) {
        (true, true) => {
            return (StatusCode::OK, Json(json!({ "status": "healthy" }))).into_response();
        }
        (false, true) => "PostgreSQL unavailable",
        (true, false) => "MongoDB unavailable",
        (false, false) => "PostgreSQL and MongoDB unavailable",
    };
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "status": "unhealthy", "error": error })),
    )
        .into_response()
}

/// `GET /health`: the same check as [`health`], at the path every service shares.
#[utoipa::path(get, path = "/health", responses(
    (status = 200, description = "`{\"status\":\"healthy\"}`: PostgreSQL and MongoDB answer"),
    (status = 500, description = "`{\"status\":\"unhealthy\",\"error\"}`, `error` naming what is down"),
))]
pub async fn health_alias(state: State<AppState>) -> Response {
    health(state).await
}
