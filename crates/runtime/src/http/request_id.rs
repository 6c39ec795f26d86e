//! Request ids: a caller's sane `x-request-id` is kept, anything else replaced by a
//! new UUID; the id is echoed on the response and available to handlers.

use axum::{
    extract::{FromRequestParts, Request},
    http::{HeaderName, HeaderValue, request::Parts},
    middleware::Next,
    response::Response,
};

/// The request id header, as the load balancers and the originals' logs name it.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id of the current request (see [`REQUEST_ID`]).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            // Only reachable when a handler runs outside `wrap` (unit tests).
            .unwrap_or_else(|| RequestId(uuid::Uuid::new_v4().to_string())))
    }
}

/// Keeps a caller's request id when it is short and printable (it ends up in logs and
/// in AMQP correlation ids), otherwise mints one; echoes it on the response.
pub(super) async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(value) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID.clone(), value.clone());
        req.extensions_mut().insert(RequestId(id.clone()));
        let mut resp = next.run(req).await;
        resp.headers_mut().insert(REQUEST_ID.clone(), value);
        resp
    } else {
        next.run(req).await
    }
}

fn is_sane_request_id(v: &str) -> bool {
    (1..=128).contains(&v.len())
        && v.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_must_be_short_and_printable() {
        assert!(is_sane_request_id("3f1c-abc_1.2:x"));
        assert!(!is_sane_request_id(""));
        assert!(!is_sane_request_id("has space"));
        assert!(!is_sane_request_id(&"a".repeat(129)));
        assert!(!is_sane_request_id("new\nline"));
    }
}
