//! Health.

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::state::AppState;

/// `GET /user-search/health` and `/health`, with the Go original's bodies.
pub async fn health(State(state): State<AppState>) -> Response {
    let text = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    match hub_db::ping(&state.pool).await {
        Ok(()) => (StatusCode::OK, text, "✅ Healthy").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            hub_runtime::http::verbatim((StatusCode::INTERNAL_SERVER_ERROR, text, "❌ Unhealthy\n"))
        }
    }
}
