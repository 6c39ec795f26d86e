//! Health.

use axum::{extract::State, response::Response};

use crate::state::AppState;

/// `GET /user-search/health` and `/health`, with the Go original's bodies.
pub async fn health(State(state): State<AppState>) -> Response {
    hub_runtime::http::health_legacy(
        down(&state).await.is_none(),
        "text/plain; charset=utf-8",
        "✅ Healthy",
        "❌ Unhealthy\n",
    )
}

/// What is down, if anything: the check of the health paths and of `/readyz`.
pub(crate) async fn down(state: &AppState) -> Option<&'static str> {
    (!hub_db::healthy(&state.pool).await).then_some("PostgreSQL unavailable")
}
