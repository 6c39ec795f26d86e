//! Health.

use axum::{extract::State, response::Response};

use crate::state::AppState;

/// `GET /user-search/health` and `/health`, with the Go original's bodies.
pub async fn health(State(state): State<AppState>) -> Response {
    hub_runtime::http::health_legacy(
        hub_db::healthy(&state.pool).await,
        "text/plain; charset=utf-8",
        "✅ Healthy",
        "❌ Unhealthy\n",
    )
}
