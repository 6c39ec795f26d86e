//! The health answers the originals gave, one way for every service: the REST
//! services' JSON bodies and the SOAP services' legacy plain bodies.

use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value};

/// The order of the keys of an unhealthy JSON body, as the original wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrder {
    /// `{"error","status"}`: Flask's `jsonify` sorted the keys.
    Sorted,
    /// `{"status","error"}`: Express kept them as the code wrote them.
    AsWritten,
}

/// How a service answers `GET /health` and its legacy health path: as its original did.
#[derive(Debug, Clone, Copy)]
pub enum HealthBody {
    /// The REST services: JSON, see [`health_json`].
    Json(KeyOrder),
    /// The SOAP services: fixed texts as `content_type`, see [`health_legacy`].
    Text {
        /// The `Content-Type` of both answers.
        content_type: &'static str,
        /// The 200 body.
        healthy: &'static str,
        /// The 500 body.
        unhealthy: &'static str,
    },
}

impl HealthBody {
    /// The answer when `down` (what is down, if anything) is known.
    pub fn render(self, down: Option<&str>) -> Response {
        match self {
            Self::Json(order) => health_json(down, order),
            Self::Text {
                content_type,
                healthy,
                unhealthy,
            } => health_legacy(down.is_none(), content_type, healthy, unhealthy),
        }
    }
}

/// A REST service's health answer: 200 `{"status":"healthy"}` when nothing is `down`,
/// else 500 with `"status":"unhealthy"` and `"error"` naming what is down (in `order`).
/// The caller logs why, once, before.
fn health_json(down: Option<&str>, order: KeyOrder) -> Response {
    let Some(error) = down else {
        return (StatusCode::OK, Json(object([("status", "healthy")]))).into_response();
    };
    let body = match order {
        KeyOrder::Sorted => object([("error", error), ("status", "unhealthy")]),
        KeyOrder::AsWritten => object([("status", "unhealthy"), ("error", error)]),
    };
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

/// A SOAP service's legacy health answer: 200 `healthy` or 500 `unhealthy` as
/// `content_type`; the 500 is marked [`verbatim`](super::verbatim) so the error rewrite
/// keeps the original's non-SOAP body.
fn health_legacy(
    ok: bool,
    content_type: &'static str,
    healthy: &'static str,
    unhealthy: &'static str,
) -> Response {
    let content_type = [(header::CONTENT_TYPE, content_type)];
    if ok {
        (StatusCode::OK, content_type, healthy).into_response()
    } else {
        super::verbatim((StatusCode::INTERNAL_SERVER_ERROR, content_type, unhealthy))
    }
}

fn object<const N: usize>(pairs: [(&str, &str); N]) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::from(v)))
            .collect::<Map<String, Value>>(),
    )
}
