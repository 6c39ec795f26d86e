//! Request ids, by tower-http's `SetRequestId` and `PropagateRequestId` (see
//! [`layers`]): a caller's sane `x-request-id` is kept, anything else replaced by a new
//! UUID; the id is echoed on the response and available to handlers as [`RequestId`].

use axum::{
    Router,
    extract::{FromRequestParts, Request},
    http::{HeaderName, HeaderValue, request::Parts},
    middleware,
};
use tower_http::request_id::{
    self as tower_id, MakeRequestId, PropagateRequestIdLayer, SetRequestIdLayer,
};

/// The request id header, as the load balancers and the originals' logs name it.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id of the current request (see [`REQUEST_ID`]).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id tower-http's layers gave `extensions`' request, if any.
    pub(super) fn of(extensions: &axum::http::Extensions) -> Option<&str> {
        extensions
            .get::<tower_id::RequestId>()
            .and_then(|id| id.header_value().to_str().ok())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            Self::of(&parts.extensions)
                .map(str::to_owned)
                // Only reachable when a handler runs outside `wrap` (unit tests).
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        ))
    }
}

/// `router` wearing the request-id layers, outermost first: a caller's id that is not
/// short and printable (it ends up in logs and in AMQP correlation ids) is dropped, a
/// missing one is minted, and the id is echoed on the response.
pub(super) fn layers(router: Router) -> Router {
    router
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MintUuid))
        .layer(middleware::map_request(drop_insane_request_id))
}

/// A new UUID v4 for a request that came without a (sane) id.
#[derive(Debug, Clone, Copy)]
struct MintUuid;

impl MakeRequestId for MintUuid {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<tower_id::RequestId> {
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
            .ok()
            .map(tower_id::RequestId::new)
    }
}

/// Removes the caller's `x-request-id` unless its first value is sane, so that
/// [`MintUuid`] replaces it.
async fn drop_insane_request_id(mut req: Request) -> Request {
    let sane = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_sane_request_id);
    if !sane {
        req.headers_mut().remove(&REQUEST_ID);
    }
    req
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
