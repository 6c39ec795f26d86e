//! The one error type of the auth service and its mapping to responses.
//!
//! Bodies keep the original's shape, `{"message": "..."}`, because clients parse it.
//! Client errors say what was wrong; anything unexpected is logged once here, with its
//! cause chain, and answered with an opaque 500. Database outages answer 503 fast.

use axum::http::{HeaderMap, HeaderValue, header};
use hub_runtime::http::{
    Failure, JsonError,
    json_body::{JsonBodyError, NotAnObject},
};

/// `Result` with [`ApiError`].
pub type ApiResult<T> = Result<T, ApiError>;

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error, JsonError)]
#[json(key = "message", headers = Self::retry_after)]
pub enum ApiError {
    /// 400: the request is malformed; the text says how.
    #[json(status = BAD_REQUEST)]
    #[error("{0}")]
    BadRequest(String),
    /// 415: the body is not declared as JSON.
    #[json(status = UNSUPPORTED_MEDIA_TYPE)]
    #[error("Content-Type must be application/json")]
    NotJson,
    /// 401: wrong password or unknown user (indistinguishable on purpose).
    #[json(status = UNAUTHORIZED)]
    #[error("Invalid credentials")]
    InvalidCredentials,
    /// 403: no `Authorization: Bearer` header (the original's status and text).
    #[json(status = FORBIDDEN)]
    #[error("Token is missing")]
    TokenMissing,
    /// 401: the token's `exp` has passed.
    #[json(status = UNAUTHORIZED)]
    #[error("Token expired")]
    TokenExpired,
    /// 401: any other token problem.
    #[json(status = UNAUTHORIZED)]
    #[error("Invalid token")]
    InvalidToken,
    /// 401: a valid token that was revoked (logout, reuse of its refresh token, an
    /// operator's revocation, a password change).
    #[json(status = UNAUTHORIZED)]
    #[error("Token has been revoked")]
    TokenRevoked,
    /// 401: the refresh token is unknown, already used, revoked or expired.
    #[json(status = UNAUTHORIZED)]
    #[error("Invalid refresh token")]
    InvalidRefreshToken,
    /// 404: `/.well-known/jwks.json` while tokens are signed with HS256.
    #[json(status = NOT_FOUND)]
    #[error("No public keys: this deployment signs tokens with HS256")]
    NoPublicKeys,
    /// 404: the token names a user that no longer exists.
    #[json(status = NOT_FOUND)]
    #[error("User not found")]
    UserNotFound,
    /// 429: too many failed logins for this username or address; retry after the
    /// given number of seconds.
    #[json(status = TOO_MANY_REQUESTS)]
    #[error("Too many failed login attempts; try again later")]
    TooManyAttempts(u64),
    /// 403: the right password, but `REQUIRE_VERIFIED_EMAIL` is on and the account's
    /// email is not verified yet.
    #[json(status = FORBIDDEN)]
    #[error("Email not verified")]
    EmailNotVerified,
    /// 403: the current password, asked for a sensitive change, is wrong.
    #[json(status = FORBIDDEN)]
    #[error("Wrong password")]
    WrongPassword,
    /// 409: another account has this email (or one that differs only in case, width or
    /// accent composition).
    #[json(status = CONFLICT)]
    #[error("Email already registered")]
    EmailTaken,
    /// 400: an email confirmation code that is unknown, used or expired.
    #[json(status = BAD_REQUEST)]
    #[error("Invalid or expired code")]
    InvalidCode,
    /// 429: a code was mailed for this less than `EMAIL_CODE_RESEND_SECS` ago; retry
    /// after the given number of seconds.
    #[json(status = TOO_MANY_REQUESTS)]
    #[error("A code was sent recently; try again later")]
    CodeSentRecently(u64),
    /// 400: a password change with the wrong current password.
    #[json(status = BAD_REQUEST)]
    #[error("Current password is wrong")]
    CurrentPasswordWrong,
    /// 409: another password change won the race; nothing was written.
    #[json(status = CONFLICT)]
    #[error("The password was changed meanwhile; sign in again")]
    PasswordConflict,
    /// 429: too many password reset requests from this address or for this login;
    /// retry after the given number of seconds.
    #[json(status = TOO_MANY_REQUESTS)]
    #[error("Too many requests; try again later")]
    TooManyRequests(u64),
    /// 403: the right password, but an administrator deactivated the account.
    #[json(status = FORBIDDEN)]
    #[error("Account is deactivated")]
    AccountDeactivated,
    /// 403: an admin route, and the caller's token or stored row lacks the admin role.
    #[json(status = FORBIDDEN)]
    #[error("Admin role required")]
    AdminRequired,
    /// 404: no such live login of the user (`/api/account/logins/{id}`,
    /// `/api/admin/users/{id}/logins/{login_id}`).
    #[json(status = NOT_FOUND)]
    #[error("Login not found")]
    LoginNotFound,
    /// 503: the export could not read one of the stores other services hold (sessions,
    /// images); nothing was exported. The text names the store and why.
    #[json(status = SERVICE_UNAVAILABLE)]
    #[error("Export unavailable: {0}; nothing was exported, try again later")]
    ExportUnavailable(String),
    /// 409: an administrator's export of a deactivated user, whose tokens session and
    /// images refuse.
    #[json(status = CONFLICT)]
    #[error("User is deactivated: its sessions and images cannot be read; reactivate it to export")]
    ExportDeactivated,
    /// 503 when a backing service is down or saturated (retry later), else 500.
    #[json(failure)]
    #[error("{}", .0.text("Service temporarily unavailable", "Internal server error"))]
    Failed(#[from] Failure),
}

impl ApiError {
    /// `Retry-After` on a 429: when to try again.
    fn retry_after(&self, headers: &mut HeaderMap) {
        if let Self::TooManyAttempts(secs)
        | Self::CodeSentRecently(secs)
        | Self::TooManyRequests(secs) = self
        {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*secs));
        }
    }
}

/// A body that is not a JSON object: 415 unless declared as JSON (Flask's `is_json`:
/// the original refused any other body), else 400.
impl JsonBodyError for ApiError {
    fn not_an_object(why: NotAnObject, fields: &str) -> Option<Self> {
        Some(match why {
            NotAnObject::NotJson => Self::NotJson,
            NotAnObject::Empty | NotAnObject::Malformed => {
                Self::BadRequest("Malformed JSON body".into())
            }
            NotAnObject::Array | NotAnObject::Scalar => {
                Self::BadRequest(format!("Request body must be a JSON object with {fields}"))
            }
        })
    }
}

hub_db::impl_from_sqlx_error!(ApiError, Failed);

impl From<hub_events::outbox::OutboxError> for ApiError {
    fn from(e: hub_events::outbox::OutboxError) -> Self {
        match e {
            hub_events::outbox::OutboxError::Db(db) => db.into(),
            other => Failure::Internal(other.into()).into(),
        }
    }
}

impl From<hub_identity::pool::HashPoolError> for ApiError {
    fn from(e: hub_identity::pool::HashPoolError) -> Self {
        let busy = matches!(e, hub_identity::pool::HashPoolError::Busy);
        Failure::new(busy, e).into()
    }
}
