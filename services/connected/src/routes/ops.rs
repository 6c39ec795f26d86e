//! Health.

use axum::{extract::State, response::Response};
use hub_runtime::http::{KeyOrder, health_json};

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
    health_json(down(&state).await, KeyOrder::AsWritten)
}

/// What is down, if anything: the check of the health paths and of `/readyz`.
pub(crate) async fn down(state: &AppState) -> Option<&'static str> {
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
    match (pg_ok, mongo_ok) {
        (true, true) => None,
        (false, true) => Some("PostgreSQL unavailable"),
        (true, false) => Some("MongoDB unavailable"),
        (false, false) => Some("PostgreSQL and MongoDB unavailable"),
    }
}

/// `GET /health`: the same check as [`health`], at the path every service shares.
#[utoipa::path(get, path = "/health", responses(
    (status = 200, description = "`{\"status\":\"healthy\"}`: PostgreSQL and MongoDB answer"),
    (status = 500, description = "`{\"status\":\"unhealthy\",\"error\"}`, `error` naming what is down"),
))]
pub async fn health_alias(state: State<AppState>) -> Response {
    health(state).await
}
