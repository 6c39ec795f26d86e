//! The one error type of the images service and its mapping to responses.
//!
//! Bodies keep the original's shape, `{"error": "..."}`, because clients parse it. The
//! original answered `str(e)` (boto3's messages, with endpoint and bucket); here client
//! errors say what was wrong, S3 outages (and PostgreSQL's, while checking a token)
//! answer 503, and anything unexpected is logged once, with its cause, and answered with
//! an opaque 500.

use axum::http::{HeaderMap, HeaderValue, header};
use hub_runtime::http::{Failure, JsonError};

use crate::store::StoreError;

/// `Result` with [`ApiError`].
pub type ApiResult<T> = Result<T, ApiError>;

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error, JsonError)]
#[json(key = "error", headers = Self::bearer_challenge)]
pub enum ApiError {
    /// 400: no multipart field `file`, or an empty file name (the original's text).
    #[json(status = BAD_REQUEST)]
    #[error("No file provided")]
    NoFile,
    /// 400: the file name has nothing left after sanitising (e.g. `文件` or `..`).
    #[json(status = BAD_REQUEST)]
    #[error("Invalid file name")]
    InvalidFileName,
    /// 400: the multipart body is malformed.
    #[json(status = BAD_REQUEST)]
    #[error("Malformed multipart body")]
    MalformedBody,
    /// 413: the file is larger than the limit (bytes).
    #[json(status = PAYLOAD_TOO_LARGE)]
    #[error("Image too large (limit {0} bytes)")]
    TooLarge(u64),
    /// 415: the content is not a PNG, JPEG, GIF or WebP image.
    #[json(status = UNSUPPORTED_MEDIA_TYPE)]
    #[error("Unsupported image type: PNG, JPEG, GIF or WebP required")]
    UnsupportedType,
    /// 413: the image declares more pixels (or a longer side, or a frame larger) than
    /// `MAX_IMAGE_PIXELS` / `MAX_IMAGE_SIDE` allow; refused before any pixel is decoded.
    #[json(status = PAYLOAD_TOO_LARGE)]
    #[error("Image dimensions too large (limit {0} pixels, {1} per side)")]
    TooManyPixels(u64, u32),
    /// 400: the content starts as an accepted type but does not decode as one
    /// (truncated, corrupt).
    #[json(status = BAD_REQUEST)]
    #[error("Invalid image: the file could not be decoded")]
    InvalidImage,
    /// 401: uploads require a token and none was sent.
    #[json(status = UNAUTHORIZED)]
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
    /// 403: a user writes only `<own user id>.<ext>` (with tokens required: any other
    /// key; by default: another key that exists already).
    #[json(status = FORBIDDEN)]
    #[error("You may only upload your own image: name the file <your user id>.<extension>")]
    NotOwnKey,
    /// 403: `GET /api/images/{user_id}` with a token that is not `user_id`'s (or a path
    /// that is no user id).
    #[json(status = FORBIDDEN)]
    #[error("You may only list your own images")]
    NotOwner,
    /// 503: a route that needs a token, and no key to verify tokens is configured
    /// (`JWKS_URL`, `SECRET_KEY` or `JWT_SECRET`).
    #[json(status = SERVICE_UNAVAILABLE)]
    #[error("Token verification is not configured")]
    NoTokenKey,
    /// 409: by default, an upload without its owner's token may create a key but never
    /// replace one; nothing was stored.
    #[json(status = CONFLICT)]
    #[error("An image with this name already exists; replacing it needs its owner's token")]
    ImageExists,
    /// 503 when S3 is down or overloaded (retry later), else 500.
    #[json(failure)]
    #[error("{}", .0.text("Storage temporarily unavailable", "Internal server error"))]
    Failed(#[from] Failure),
}

impl ApiError {
    /// `WWW-Authenticate: Bearer` on a 401: how to authenticate.
    fn bearer_challenge(&self, headers: &mut HeaderMap) {
        if matches!(
            self,
            Self::TokenMissing | Self::TokenExpired | Self::InvalidToken
        ) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // A create-only write found the key taken; the handler says who could have
            // replaced it (`access::key_taken`).
            StoreError::Exists => Self::ImageExists,
            // `NoSuchBucket` is only reachable when putting the bucket back failed in a
            // way S3 called "no such bucket" again: an internal problem, not the client's.
            e => Self::Failed(Failure::new(matches!(e, StoreError::Unavailable(_)), e)),
        }
    }
}

// The revocation read: PostgreSQL down answers 503, as S3 down does.
hub_db::impl_from_sqlx_error!(ApiError, Failed);
