//! The one error type of the session service and its mapping to responses.
//!
//! Bodies keep the original's shape, `{"message": "..."}`, because clients parse it.
//! Client errors say what was wrong; anything unexpected is logged once here, with its
//! cause chain, and answered with an opaque 500 (the original echoed the driver's
//! message in an `error` key; that leaked internals and is gone). A backing server that
//! is down or saturated answers 503 fast.

use hub_runtime::http::{Failure, JsonError};

/// `Result` with [`ApiError`].
pub type ApiResult<T> = Result<T, ApiError>;

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error, JsonError)]
#[json(key = "message")]
pub enum ApiError {
    /// 400: the request is malformed; the text says how.
    #[json(status = BAD_REQUEST)]
    #[error("{0}")]
    BadRequest(String),
    /// 403: no bearer token (the original's status and text).
    #[json(status = FORBIDDEN)]
    #[error("No token provided")]
    TokenMissing,
    /// 401: bad signature, other algorithm, malformed or expired (the original's text).
    #[json(status = UNAUTHORIZED)]
    #[error("Invalid or expired token")]
    InvalidToken,
    /// 401: the token is valid but its user is no longer in `"user"`.
    #[json(status = UNAUTHORIZED)]
    #[error("User not found")]
    UnknownUser,
    /// 401: the token is valid but revoked (logout, refresh-token reuse, password change,
    /// operator).
    #[json(status = UNAUTHORIZED)]
    #[error("Token has been revoked")]
    TokenRevoked,
    /// 404: the caller has no session, or the path is not the caller's own id.
    #[json(status = NOT_FOUND)]
    #[error("Session not found")]
    SessionNotFound,
    /// 409: `PUT` cannot set `data.text` because the stored `data` is not an object.
    #[json(status = CONFLICT)]
    #[error("Session data is not an object; replace it with POST /api/sessions")]
    DataNotAnObject,
    /// 503 when a backing server is down or saturated (retry later), else 500.
    #[json(failure)]
    #[error("{}", .0.text("Service temporarily unavailable", "Internal server error"))]
    Failed(#[from] Failure),
}

hub_db::impl_from_sqlx_error!(ApiError, Failed);

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Failed(Failure::new(e.is_unavailable(), e))
    }
}
