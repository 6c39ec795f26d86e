//! Health and the original's diagnostic endpoints.

use axum::{Json, extract::State, response::Response};
use hub_events::{catalogue::TestEvent, outbox};
use hub_runtime::http::{KeyOrder, RequestId, health_json};
use serde_json::{Value, json};

use crate::{error::ApiResult, state::AppState};

/// `GET /auth/health` and `/health`: 200 `{"status":"healthy"}` when PostgreSQL
/// answers, else 500 `{"error","status":"unhealthy"}` as the original (without the
/// driver's message, which leaked internals). RabbitMQ is not checked: logins work
/// without it.
#[utoipa::path(get, path = "/auth/health", responses(
    (status = 200, description = "`{\"status\":\"healthy\"}`"),
    (status = 500, description = "`{\"error\",\"status\":\"unhealthy\"}`"),
))]
pub async fn health(State(state): State<AppState>) -> Response {
    health_json(down(&state).await, KeyOrder::Sorted)
}

/// What is down, if anything: the check of the health paths and of `/readyz`.
pub(crate) async fn down(state: &AppState) -> Option<&'static str> {
    (!hub_db::healthy(&state.pool).await).then_some("database unavailable")
}

/// `GET /health`: the same check as [`health`], at the path every service shares.
#[utoipa::path(get, path = "/health", responses(
    (status = 200, description = "`{\"status\":\"healthy\"}`"),
    (status = 500, description = "`{\"error\",\"status\":\"unhealthy\"}`"),
))]
pub async fn health_alias(state: State<AppState>) -> Response {
    health(state).await
}

/// `GET /test-db`: the database clock, formatted as Python's `str(datetime)`.
#[utoipa::path(get, path = "/test-db", responses(
    (status = 200, description = "`{\"message\",\"timestamp\"}`"),
    (status = 503, description = "Database unavailable", body = super::Message),
))]
pub async fn test_db(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let mut conn = state.pool.acquire().await?;
    let now = sqlx::query_scalar!(r#"SELECT now() AS "now!""#)
        .fetch_one(&mut *conn)
        .await?;
    let timestamp = now.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string();
    Ok(Json(
        json!({ "message": "Successful connection", "timestamp": timestamp }),
    ))
}

/// `GET /test-event`: records a `TestEvent` in the outbox.
#[utoipa::path(get, path = "/test-event", responses(
    (status = 200, description = "`{\"message\":\"Evento de prueba enviado\"}`"),
    (status = 503, description = "Database unavailable", body = super::Message),
))]
pub async fn test_event(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
) -> ApiResult<Json<Value>> {
    let mut conn = state.pool.acquire().await?;
    outbox::enqueue(
        &mut conn,
        &state.queue,
        &TestEvent {
            msg: "Esto es una prueba",
        },
        Some(&request_id),
    )
    .await?;
    Ok(Json(json!({ "message": "Evento de prueba enviado" })))
}
