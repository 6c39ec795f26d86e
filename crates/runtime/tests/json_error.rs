//! `#[derive(JsonError)]` as a service uses it: each variant's status, the body key, the
//! failure variant's 503/500 and the extra headers.
#![allow(clippy::unwrap_used, missing_docs)]

use axum::{
    body::to_bytes,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::IntoResponse,
};
use hub_runtime::http::{Failure, JsonError};

#[derive(Debug, thiserror::Error, JsonError)]
#[json(key = "error", headers = Self::retry_after)]
enum Sample {
    #[json(status = BAD_REQUEST)]
    #[error("{0}")]
    Bad(String),
    #[json(status = NOT_FOUND)]
    #[error("Nothing here")]
    Missing,
    #[json(status = TOO_MANY_REQUESTS)]
    #[error("Slow down")]
    Busy { secs: u64 },
    #[json(failure)]
    #[error("{}", .0.text("Try later", "Oops"))]
    Failed(#[from] Failure),
}

impl Sample {
    fn retry_after(&self, headers: &mut HeaderMap) {
        if let Self::Busy { secs } = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*secs));
        }
    }
}

async fn answer(error: Sample) -> (StatusCode, HeaderMap, String) {
    let response = error.into_response();
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, 1 << 16).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn each_variant_answers_its_status_with_its_text_under_the_key() {
    assert_eq!(Sample::KEY, "error");
    let (status, headers, body) = answer(Sample::Bad("No file".into())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, r#"{"error":"No file"}"#);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert!(headers.get(header::RETRY_AFTER).is_none());

    let (status, _, body) = answer(Sample::Missing).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::NOT_FOUND, r#"{"error":"Nothing here"}"#)
    );

    let (status, headers, _) = answer(Sample::Busy { secs: 7 }).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers[header::RETRY_AFTER], "7");
}

#[tokio::test]
async fn the_failure_variant_answers_503_or_500_with_its_own_text_never_the_cause() {
    let down = Failure::new(
        true,
        anyhow::anyhow!("connection refused to db:5432 as admin"),
    );
    let (status, _, body) = answer(down.into()).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, r#"{"error":"Try later"}"#)
    );

    let bug = Failure::new(false, anyhow::anyhow!("secret detail"));
    let (status, _, body) = answer(bug.into()).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":"Oops"}"#)
    );
}
