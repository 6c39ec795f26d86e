//! The original's diagnostic endpoints (`TEST_ENDPOINTS`).

use axum::{Json, extract::State};
use hub_events::{catalogue::TestEvent, outbox};
use hub_runtime::http::RequestId;
use serde_json::{Value, json};

use crate::{error::ApiResult, state::AppState};

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
