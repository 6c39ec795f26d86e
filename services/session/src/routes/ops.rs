//! Health.

use axum::{extract::State, response::Response};
use hub_runtime::http::{KeyOrder, health_json};

use crate::state::AppState;

/// `GET /session/health` and `/health`: 200 `{"status":"healthy"}` when both MongoDB
/// and PostgreSQL answer (the original answered healthy without checking anything),
/// else 500 `{"status":"unhealthy","error"}` naming which one is down, without the
/// driver's message. Each check is bounded by its driver's fail-fast timeout (1 s).
#[utoipa::path(get, path = "/session/health", responses(
    (status = 200, description = "`{\"status\":\"healthy\"}`: MongoDB and PostgreSQL answer"),
    (status = 500, description = "`{\"status\":\"unhealthy\",\"error\"}`, `error` naming what is down"),
))]
pub async fn health(State(state): State<AppState>) -> Response {
    health_json(down(&state).await, KeyOrder::AsWritten)
}

/// What is down, if anything: the check of the health paths and of `/readyz`.
pub(crate) async fn down(state: &AppState) -> Option<&'static str> {
    let (mongo, pg) = tokio::join!(state.sessions.ping(), hub_db::ping(&state.pool));
    match (mongo, pg) {
        (Ok(()), Ok(())) => None,
        (Err(m), Err(p)) => {
            tracing::warn!(mongo.error = %m, db.error = %p, "health check: MongoDB and PostgreSQL unavailable");
            Some("MongoDB and PostgreSQL unavailable")
        }
        (Err(m), Ok(())) => {
            tracing::warn!(mongo.error = %m, "health check: MongoDB unavailable");
            Some("MongoDB unavailable")
        }
        (Ok(()), Err(p)) => {
            tracing::warn!(db.error = %p, "health check: PostgreSQL unavailable");
            Some("PostgreSQL unavailable")
        }
    }
}

/// `GET /health`: the same check as [`health`], at the path every service shares.
#[utoipa::path(get, path = "/health", responses(
    (status = 200, description = "`{\"status\":\"healthy\"}`: MongoDB and PostgreSQL answer"),
    (status = 500, description = "`{\"status\":\"unhealthy\",\"error\"}`, `error` naming what is down"),
))]
pub async fn health_alias(state: State<AppState>) -> Response {
    health(state).await
}
