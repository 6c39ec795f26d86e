//! The one error type of the connected service and its mapping to responses.
//!
//! Bodies keep the original's shape, `{"error": "..."}`, and its texts (with their
//! full stops), because clients parse them. Anything unexpected is logged once here
//! and answered with the original's opaque 500; a backing server that is down or slow
//! answers 503 fast, so callers know to retry.

use hub_runtime::http::{Failure, JsonError};

/// `Result` with [`ApiError`].
pub type ApiResult<T> = Result<T, ApiError>;

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error, JsonError)]
#[json(key = "error")]
pub enum ApiError {
    /// 400: no `username`, or an empty one (the original's text).
    #[json(status = BAD_REQUEST)]
    #[error("Username must be provided.")]
    MissingUsername,
    /// 400: `username` given more than once (the original passed an array to pg).
    #[json(status = BAD_REQUEST)]
    #[error("Username must be provided only once.")]
    RepeatedUsername,
    /// 404: no user has this username.
    #[json(status = NOT_FOUND)]
    #[error("User not found.")]
    UserNotFound,
    /// 404: the user has no session with a timestamp.
    #[json(status = NOT_FOUND)]
    #[error("No sessions found for this user.")]
    NoSessions,
    /// 503 when PostgreSQL or MongoDB is down or too slow (retry later), else 500.
    #[json(failure)]
    #[error("{}", .0.text("Service temporarily unavailable.", "An internal server error occurred."))]
    Failed(#[from] Failure),
}

hub_db::impl_from_sqlx_error!(ApiError, Failed);

impl From<mongodb::error::Error> for ApiError {
    fn from(e: mongodb::error::Error) -> Self {
        // Only the kind: a driver message may echo parts of the connection string.
        let cause = anyhow::anyhow!("MongoDB error ({})", hub_mongo::kind_name(&e));
        Self::Failed(Failure::new(hub_mongo::is_unavailable(&e), cause))
    }
}
