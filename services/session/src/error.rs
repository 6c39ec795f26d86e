//! The one error type of the session service and its mapping to responses.
//!
//! Bodies keep the original's shape, `{"message": "..."}`, because clients parse it.
//! Client errors say what was wrong; anything unexpected is logged once here, with its
//! cause chain, and answered with an opaque 500 (the original echoed the driver's
//! message in an `error` key; that leaked internals and is gone). A backing server that
//! is down or saturated answers 503 fast.

use axum::http::StatusCode;
use hub_runtime::http::{Failure, JsonError};

/// `Result` with [`ApiError`].
pub type ApiResult<T> = Result<T, ApiError>;

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; the text says how.
    #[error("{0}")]
    BadRequest(String),
    /// 403: no bearer token (the original's status and text).
    #[error("No token provided")]
    TokenMissing,
    /// 401: bad signature, other algorithm, malformed or expired (the original's text).
    #[error("Invalid or expired token")]
    InvalidToken,
    /// 401: the token is valid but its user is no longer in `"user"`.
    #[error("User not found")]
    UnknownUser,
    /// 401: the token is valid but revoked (logout, refresh-token reuse, password change,
    /// operator).
    #[error("Token has been revoked")]
    TokenRevoked,
    /// 403: the path names another user's session.
    #[error("Access denied: you can only access your own session")]
    NotOwner,
    /// 404: the caller has no session.
    #[error("Session not found")]
    SessionNotFound,
    /// 409: `PUT` cannot set `data.text` because the stored `data` is not an object.
    #[error("Session data is not an object; replace it with POST /api/sessions")]
    DataNotAnObject,
    /// 503 when a backing server is down or saturated (retry later), else 500.
    #[error("{}", .0.text("Service temporarily unavailable", "Internal server error"))]
    Failed(#[from] Failure),
}

impl JsonError for ApiError {
    const KEY: &'static str = "message";

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TokenMissing | Self::NotOwner => StatusCode::FORBIDDEN,
            Self::InvalidToken | Self::UnknownUser | Self::TokenRevoked => StatusCode::UNAUTHORIZED,
            Self::SessionNotFound => StatusCode::NOT_FOUND,
            Self::DataNotAnObject => StatusCode::CONFLICT,
            Self::Failed(failure) => failure.status(),
        }
    }
}

hub_db::impl_from_sqlx_error!(ApiError, Failed);

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Failed(Failure::new(e.is_unavailable(), e))
    }
}

hub_runtime::impl_json_error_response!(ApiError, Failed);
