//! `POST /upload_image` and `GET /list_images`.
//!
//! An upload streams: the multipart field is read chunk by chunk, its first bytes
//! decide the type (magic bytes), and at most one part (`S3_PART_SIZE_BYTES`, 5 MiB)
//! is held in memory. A file that fits in one part is stored with one `PutObject`;
//! a larger one goes out as an S3 multipart upload, part by part, completed only when
//! the whole file has arrived within the limit. Any failure (too large, not an image,
//! client gone, S3 down) aborts the multipart upload, so nothing is ever stored
//! half-way and a replaced object is never lost to a failed upload.

use axum::{
    Json,
    extract::{
        FromRequestParts, Multipart, State,
        multipart::{Field, MultipartError, MultipartRejection},
    },
    http::{HeaderMap, StatusCode, header, request::Parts},
};
use bytes::Bytes;
use hub_identity::{
    jwt::TokenError,
    revocation::{self, Check},
};
use hub_runtime::http::Failure;
use serde::Serialize;

use crate::{
    access::{self, Policy, TokenProblem, Uploader, Write},
    error::{ApiError, ApiResult},
    keys,
    magic::{self, Sniff},
    state::AppState,
    store::{MultipartUpload, Store},
};

/// S3's longest key, in bytes.
const MAX_KEY_BYTES: usize = 1024;

/// The uploader, from `Authorization: Bearer <jwt>` ([`crate::access`] decides what it
/// may write). A token is verified (HS256 with the secret, or EdDSA through auth's JWKS)
/// and then checked against revocation in PostgreSQL, in the one indexed read session
/// and user-lookup make (`hub_identity::revocation::check`), so a token revoked by a
/// logout, a refresh-token reuse, a password change or an operator counts for nothing
/// at once. With tokens required, a missing, invalid, expired or revoked one is refused
/// here (401); otherwise it only makes the upload anonymous, and is answered if the
/// upload needed it ([`access::key_taken`]). The JWKS or PostgreSQL unreachable while
/// checking a token that was sent: 503, never an accepted token.
pub struct UploadAuth(pub Uploader);

impl FromRequestParts<AppState> for UploadAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        const NONE: Uploader = Uploader::Anonymous { refused: None };
        let required = state.policy == Policy::TokenRequired;
        // Without a verifier (anonymous replace, or no key configured) tokens are not read.
        let Some(verifier) = &state.upload_jwt else {
            return Ok(Self(NONE));
        };
        let Some(token) = hub_runtime::http::bearer_token(&parts.headers) else {
            return if required {
                Err(ApiError::TokenMissing)
            } else {
                Ok(Self(NONE))
            };
        };
        let problem = match verifier.verify(token).await {
            Ok(token) => match revocation::check(&state.pool, &token).await? {
                Check::Admitted => {
                    tracing::debug!(user.id = %token.claims.user_id, "upload authorised");
                    return Ok(Self(Uploader::User(token.claims.user_id)));
                }
                Check::UnknownUser => {
                    tracing::info!(user.id = %token.claims.user_id, "valid token for a user that no longer exists");
                    TokenProblem::Invalid
                }
                Check::Revoked => {
                    tracing::info!(user.id = %token.claims.user_id, "revoked token refused");
                    TokenProblem::Invalid
                }
            },
            Err(TokenError::Expired) => TokenProblem::Expired,
            Err(TokenError::Invalid) => TokenProblem::Invalid,
            Err(e @ TokenError::Unavailable) => return Err(Failure::Unavailable(e.into()).into()),
        };
        if required {
            Err(problem.error())
        } else {
            Ok(Self(Uploader::Anonymous {
                refused: Some(problem),
            }))
        }
    }
}

hub_runtime::error_responses! {
    /// What every route of this service may answer besides its own rows.
    pub StorageFailures(super::ErrorBody) {
        500 => "`Internal server error`",
        503 => "S3 unavailable (or PostgreSQL, while checking a token that was sent): `Storage temporarily unavailable`",
    }
}

/// The upload answer, in the original's (sorted) key order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Uploaded {
    /// Always `Image uploaded successfully`.
    message: &'static str,
    /// The object's public URL, `<S3_PUBLIC_BASE_URL>/<bucket>/<key>`, percent-encoded.
    url: String,
}

/// `POST /upload_image` body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: the handler streams the multipart body itself
pub struct UploadForm {
    /// The image (PNG, JPEG, GIF or WebP, by content); its file name, sanitised,
    /// becomes the object key. Other fields are ignored.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// `GET /list_images` answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ImageList {
    /// The public URL of every object in the bucket, in S3 key order.
    urls: Vec<String>,
}

/// `POST /upload_image`, multipart field `file`.
#[utoipa::path(
    post,
    path = "/upload_image",
    description = "Stores the image under its sanitised file name, with the extension of \
        its detected type (`x.html` holding a PNG is stored as `x.png`). By default anyone \
        may create a name that does not exist yet, and only its owner replaces it: the file \
        named `<user_id of the token>.<extension>`, with that user's bearer token (not \
        revoked); replacing without it is 409, with another user's token 403. With \
        `UPLOAD_REQUIRE_JWT=true` the token is required and only the caller's own name is \
        written; with `UPLOAD_ANONYMOUS_REPLACE=true` any upload replaces (the original).",
    request_body(content = inline(UploadForm), content_type = "multipart/form-data"),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Stored", body = Uploaded),
        (status = 400, description = "`No file provided`, `Invalid file name` or `Malformed multipart body`", body = super::ErrorBody),
        (status = 401, description = "`Token is missing` (with `UPLOAD_REQUIRE_JWT=true`), `Token expired` or `Invalid token` (also revoked, or its user gone): with tokens required, for any upload; by default, when the upload needed the token (the name exists); with `WWW-Authenticate: Bearer`", body = super::ErrorBody),
        (status = 403, description = "The file is not named `<user_id of the token>.<extension>`: with `UPLOAD_REQUIRE_JWT=true` always refused; by default, when that name exists already", body = super::ErrorBody),
        (status = 409, description = "By default, without the owner's token: `An image with this name already exists; replacing it needs its owner's token`; nothing stored", body = super::ErrorBody),
        (status = 413, description = "Over `MAX_IMAGE_BYTES`: `Image too large (limit <n> bytes)`", body = super::ErrorBody),
        (status = 415, description = "Not a PNG, JPEG, GIF or WebP image (by content): `Unsupported image type: PNG, JPEG, GIF or WebP required`", body = super::ErrorBody),
        StorageFailures,
    )
)]
#[tracing::instrument(name = "upload_image", skip_all, fields(image.key))]
pub async fn upload_image(
    State(state): State<AppState>,
    UploadAuth(uploader): UploadAuth,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<Uploaded>> {
    // The original read `request.files`, which is empty for any other body: same answer.
    let mut multipart = multipart.map_err(|_| ApiError::NoFile)?;
    let mut field = loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => break field,
            // Other fields are skipped (the next call discards their data).
            Ok(Some(_)) => {}
            Ok(None) => return Err(ApiError::NoFile),
            Err(e) => return Err(body_error(&e, state.max_image_bytes)),
        }
    };
    let name = object_name(field.file_name().unwrap_or_default())?;
    let (name, write) = access::target(state.policy, uploader, name)?;

    let _permit = state
        .upload_permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| Failure::Internal(e.into()))?;
    // The request's length bounds the file's: it sizes the part buffer in one allocation
    // (never above one part), instead of growing it by copies.
    let receiver = Receiver::new(&state, &name, write, content_length(&headers));
    let stored = receiver.receive(&mut field).await;
    if stored.is_err() {
        // Read (and discard) what the client is still sending, within the body limit,
        // so it gets our answer instead of a connection reset mid-upload.
        while let Ok(Some(_)) = field.chunk().await {}
        drop(field);
        while let Ok(Some(mut other)) = multipart.next_field().await {
            while let Ok(Some(_)) = other.chunk().await {}
        }
    }
    let (bytes, mime, key) = stored.map_err(|e| match e {
        ApiError::ImageExists => access::key_taken(uploader),
        e => e,
    })?;
    tracing::Span::current().record("image.key", key.as_str());
    tracing::info!(
        image.bytes = bytes,
        image.content_type = mime,
        "image stored"
    );
    Ok(Json(Uploaded {
        message: "Image uploaded successfully",
        url: state.store.url(&key),
    }))
}

/// The name an uploaded file is stored under, before [`access::target`] and before its
/// extension follows its type: the original's `secure_filename`, refused when nothing is
/// left of it or it is longer than S3 allows.
fn object_name(filename: &str) -> Result<String, ApiError> {
    if filename.is_empty() {
        return Err(ApiError::NoFile);
    }
    let name = keys::secure_filename(filename);
    if name.is_empty() || name.len() > MAX_KEY_BYTES - keys::MAX_ADDED_EXTENSION {
        return Err(ApiError::InvalidFileName);
    }
    Ok(name)
}

/// The request's declared length (0 when absent or unreadable).
fn content_length(headers: &HeaderMap) -> u64 {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
}

/// `GET /list_images`: the URL of every object in the bucket, in S3 key order.
#[utoipa::path(
    get,
    path = "/list_images",
    responses(
        (status = 200, description = "Every object's URL, all pages", body = ImageList),
        StorageFailures,
    )
)]
pub async fn list_images(State(state): State<AppState>) -> ApiResult<Json<ImageList>> {
    let keys = state.store.list_keys().await?;
    let urls = keys.iter().map(|k| state.store.url(k)).collect();
    Ok(Json(ImageList { urls }))
}

/// A multipart error while reading: over the body limit is 413, anything else 400.
fn body_error(e: &MultipartError, max_image_bytes: u64) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(max_image_bytes)
    } else {
        ApiError::MalformedBody
    }
}

/// One file on its way to S3: at most one part buffered.
struct Receiver<'a> {
    store: &'a Store,
    /// The sanitised name; the key is this with the type's extension, once known.
    name: &'a str,
    key: String,
    /// Create-only or replacing.
    write: Write,
    max: u64,
    part_size: usize,
    /// The request's `Content-Length` (0 if unknown): at least the file's size.
    expected: u64,
    received: u64,
    buf: Vec<u8>,
    mime: Option<&'static str>,
    upload: Option<MultipartUpload>,
}

impl<'a> Receiver<'a> {
    fn new(state: &'a AppState, name: &'a str, write: Write, expected: u64) -> Self {
        Self {
            store: &state.store,
            name,
            key: String::new(),
            write,
            max: state.max_image_bytes,
            part_size: state.part_size,
            expected,
            received: 0,
            buf: Vec::new(),
            mime: None,
            upload: None,
        }
    }

    /// Reads the whole field and stores it; returns its size, type and key. On any
    /// error, a multipart upload already started is aborted before returning.
    async fn receive(mut self, field: &mut Field<'_>) -> ApiResult<(u64, &'static str, String)> {
        let result = self.stream(field).await;
        if result.is_err()
            && let Some(upload) = self.upload.take()
        {
            upload.abort().await;
        }
        result.map(|(bytes, mime)| (bytes, mime, self.key))
    }

    /// The type is known: the key is the name with its extension.
    fn typed(&mut self, mime: &'static str) -> &'static str {
        self.key = keys::with_type_extension(self.name, mime);
        self.mime = Some(mime);
        mime
    }

    async fn stream(&mut self, field: &mut Field<'_>) -> ApiResult<(u64, &'static str)> {
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => self.push(&chunk).await?,
                Ok(None) => break,
                Err(e) => return Err(body_error(&e, self.max)),
            }
        }
        let mime = match self.mime {
            Some(mime) => mime,
            None => match magic::sniff(&self.buf, true) {
                Sniff::Image(mime) => self.typed(mime),
                Sniff::NeedMore | Sniff::Refused => return Err(ApiError::UnsupportedType),
            },
        };
        let rest = Bytes::from(std::mem::take(&mut self.buf));
        match self.upload.as_mut() {
            None => self.store.put(&self.key, mime, rest, self.write).await?,
            Some(upload) => {
                if !rest.is_empty() {
                    upload.upload_part(rest).await?;
                }
                if let Some(upload) = self.upload.take() {
                    upload.complete(self.write).await?;
                }
            }
        }
        Ok((self.received, mime))
    }

    async fn push(&mut self, chunk: &[u8]) -> ApiResult<()> {
        let before = self.received;
        self.received = before.saturating_add(chunk.len() as u64);
        if self.received > self.max {
            return Err(ApiError::TooLarge(self.max));
        }
        if self.buf.capacity() == 0 {
            // A new part: room for what is still to come, at most one part.
            let left = usize::try_from(self.expected.saturating_sub(before)).unwrap_or(usize::MAX);
            self.buf
                .reserve_exact(left.min(self.part_size).max(chunk.len()));
        }
        append(&mut self.buf, chunk, self.part_size);
        let mime = match self.mime {
            Some(mime) => mime,
            None => match magic::sniff(&self.buf, false) {
                Sniff::Image(mime) => self.typed(mime),
                Sniff::NeedMore => return Ok(()),
                Sniff::Refused => return Err(ApiError::UnsupportedType),
            },
        };
        if self.buf.len() >= self.part_size {
            if self.upload.is_none() {
                self.upload = Some(self.store.start_multipart(&self.key, mime).await?);
            }
            let part = Bytes::from(std::mem::take(&mut self.buf));
            if let Some(upload) = self.upload.as_mut() {
                upload.upload_part(part).await?;
            }
        }
        Ok(())
    }
}

/// Appends `chunk`, growing the buffer (when the size was not known up front) by
/// doubling but never far past `cap`, so one part never costs much more than its own
/// size in memory.
fn append(buf: &mut Vec<u8>, chunk: &[u8], cap: usize) {
    let needed = buf.len() + chunk.len();
    if needed > buf.capacity() {
        let target = buf
            .capacity()
            .saturating_mul(2)
            .clamp(needed, cap.max(needed));
        buf.reserve_exact(target - buf.len());
    }
    buf.extend_from_slice(chunk);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_part_buffer_grows_by_doubling_up_to_the_part_size_only() {
        let cap = 1000;
        let mut buf = Vec::new();
        for _ in 0..99 {
            append(&mut buf, &[0u8; 10], cap);
        }
        assert_eq!(buf.len(), 990);
        assert!(buf.capacity() <= cap, "capacity {}", buf.capacity());
        append(&mut buf, &[0u8; 30], cap);
        assert_eq!(buf.len(), 1020);
        assert!(buf.capacity() < 2 * cap, "capacity {}", buf.capacity());
    }
}
