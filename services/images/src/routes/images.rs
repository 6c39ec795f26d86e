//! `POST /upload_image` and `GET /list_images` (`GET /api/images/{user_id}`: `user.rs`).
//!
//! An upload is read chunk by chunk, its first bytes deciding the type (magic bytes, 415
//! at once for anything else), whole into memory within `MAX_IMAGE_BYTES`
//! (`MAX_CONCURRENT_UPLOADS` at once); then decoded and written out anew, without its
//! metadata, off the request threads ([`crate::process`]). The result is stored under
//! the image's own key (the access rule's conditional write decides there, before
//! anything else is stored), then under its content-addressed key with its variants.

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
    verifier::Verifier,
};
use hub_runtime::http::Failure;
use serde::Serialize;
use uuid::Uuid;

use crate::{
    access::{self, Policy, TokenProblem, Uploader, Write},
    error::{ApiError, ApiResult},
    keys,
    magic::{self, Sniff},
    process::Processed,
    state::AppState,
    store::Store,
    versions,
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
        // With the original's rule, or without a verifier (no key configured), tokens are
        // not read.
        let verifier = match &state.jwt {
            Some(verifier) if state.policy != Policy::AnonymousReplace => verifier,
            _ => return Ok(Self(NONE)),
        };
        let Some(token) = hub_runtime::http::bearer_token(&parts.headers) else {
            return if required {
                Err(ApiError::TokenMissing)
            } else {
                Ok(Self(NONE))
            };
        };
        let problem = match token_user(verifier, state, token).await? {
            Ok(user) => {
                tracing::debug!(user.id = %user, "upload authorised");
                return Ok(Self(Uploader::User(user)));
            }
            Err(problem) => problem,
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

/// Whose a bearer `token` is: verified, then checked against revocation in PostgreSQL
/// (`hub_identity::revocation::check`), its user, or why it does not count. `Err` when
/// the JWKS or PostgreSQL cannot be reached (503, never an accepted token).
pub(super) async fn token_user(
    verifier: &Verifier,
    state: &AppState,
    token: &str,
) -> ApiResult<Result<Uuid, TokenProblem>> {
    Ok(Err(match verifier.verify(token).await {
        Ok(token) => match revocation::check(&state.pool, &token).await? {
            Check::Admitted => return Ok(Ok(token.claims.user_id)),
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
    }))
}

hub_runtime::error_responses! {
    /// What every route of this service may answer besides its own rows.
    pub StorageFailures(super::ErrorBody) {
        500 => "`Internal server error`",
        503 => "S3 unavailable (or PostgreSQL, while checking a token that was sent): `Storage temporarily unavailable`",
    }
}

/// The upload answer, in the original's (sorted) key order; `variants` and
/// `version_url` are new.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Uploaded {
    /// Always `Image uploaded successfully`.
    message: &'static str,
    /// The object's public URL, `<S3_PUBLIC_BASE_URL>/<bucket>/<key>`, percent-encoded:
    /// the image's own key, which the next upload to the same name replaces.
    url: String,
    /// One per configured size (`IMAGE_VARIANT_SIZES`, default 64, 128, 256), smallest
    /// first as configured: the image fitted in that box, never enlarged.
    variants: Vec<VariantUrls>,
    /// This upload's content-addressed URL, `<stem>/<sha256>.<ext>`: never changes
    /// content, cached for a year (`Cache-Control: public, max-age=31536000, immutable`);
    /// removed `IMAGE_VERSION_GRACE_SECS` after a newer upload replaced it.
    version_url: String,
}

/// One variant's URLs (content-addressed, long-lived cache headers).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VariantUrls {
    /// The box side, in pixels.
    size: u32,
    /// In the original's format: `<stem>/<sha256>-<size>.<ext>`.
    url: String,
    /// In WebP (lossless): `<stem>/<sha256>-<size>.webp` (for a WebP, `url` again).
    webp_url: String,
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

/// `GET /list_images` answer; `images` is new.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ImageList {
    /// Each image of `urls`, with its current version's URLs when it has one (images
    /// stored before versions existed have none).
    images: Vec<ListedImage>,
    /// The legacy answer: the public URL of every object in the bucket but versions and
    /// variants, in S3 key order.
    urls: Vec<String>,
}

/// One image of the listing.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ListedImage {
    /// The image's own URL (as in `urls`).
    url: String,
    /// Its current version's variants (empty without a current version).
    variants: Vec<VariantUrls>,
    /// Its current version's content-addressed URL, or null.
    version_url: Option<String>,
}

/// `POST /upload_image`, multipart field `file`.
#[utoipa::path(
    post,
    path = "/upload_image",
    description = "Decodes the image and stores it written out anew (EXIF orientation \
        applied; no EXIF, GPS, XMP or comments; ICC profile kept) under its sanitised file \
        name, with the extension of its detected type (`x.html` holding a PNG is stored as \
        `x.png`), and under a content-addressed key `<stem>/<sha256>.<ext>` with its \
        variants. By default anyone \
        may create a name that does not exist yet, and only its owner replaces it: the file \
        named `<user_id of the token>.<extension>`, with that user's bearer token (not \
        revoked); replacing without it is 409, with another user's token 403. With \
        `UPLOAD_REQUIRE_JWT=true` the token is required and only the caller's own name is \
        written; with `UPLOAD_ANONYMOUS_REPLACE=true` any upload replaces (the original).",
    request_body(content = inline(UploadForm), content_type = "multipart/form-data"),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Stored, re-encoded without metadata, with its variants", body = Uploaded),
        (status = 400, description = "`No file provided`, `Invalid file name`, `Malformed multipart body` or `Invalid image: the file could not be decoded`", body = super::ErrorBody),
        (status = 401, description = "`Token is missing` (with `UPLOAD_REQUIRE_JWT=true`), `Token expired` or `Invalid token` (also revoked, or its user gone): with tokens required, for any upload; by default, when the upload needed the token (the name exists); with `WWW-Authenticate: Bearer`", body = super::ErrorBody),
        (status = 403, description = "The file is not named `<user_id of the token>.<extension>`: with `UPLOAD_REQUIRE_JWT=true` always refused; by default, when that name exists already", body = super::ErrorBody),
        (status = 409, description = "By default, without the owner's token: `An image with this name already exists; replacing it needs its owner's token`; nothing stored", body = super::ErrorBody),
        (status = 413, description = "Over `MAX_IMAGE_BYTES`: `Image too large (limit <n> bytes)`; or declaring more pixels than `MAX_IMAGE_PIXELS` / `MAX_IMAGE_SIDE` (checked before decoding): `Image dimensions too large (limit <n> pixels, <side> per side)`; nothing stored", body = super::ErrorBody),
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
    let received = receive(&mut field, state.max_image_bytes, content_length(&headers)).await;
    if received.is_err() {
        // Read (and discard) what the client is still sending, within the body limit,
        // so it gets our answer instead of a connection reset mid-upload.
        while let Ok(Some(_)) = field.chunk().await {}
        drop(field);
        while let Ok(Some(mut other)) = multipart.next_field().await {
            while let Ok(Some(_)) = other.chunk().await {}
        }
    }
    let (bytes, mime) = received?;
    let size = bytes.len();
    let key = keys::with_type_extension(&name, mime);
    tracing::Span::current().record("image.key", key.as_str());
    let image = state.imaging.run(bytes, mime).await?;
    let (width, height) = image.dimensions;
    let uploaded = store_image(&state.store, &key, write, image)
        .await
        .map_err(|e| match e {
            ApiError::ImageExists => access::key_taken(uploader),
            e => e,
        })?;
    tracing::info!(
        image.bytes = size,
        image.content_type = mime,
        image.width = width,
        image.height = height,
        "image stored"
    );
    Ok(Json(uploaded))
}

/// The name an uploaded file is stored under, before [`access::target`] and before its
/// extension follows its type: the original's `secure_filename`, refused when nothing is
/// left of it or it is longer than S3 allows.
fn object_name(filename: &str) -> Result<String, ApiError> {
    if filename.is_empty() {
        return Err(ApiError::NoFile);
    }
    let name = keys::secure_filename(filename);
    if name.is_empty() || name.len() > MAX_KEY_BYTES - keys::MAX_VERSION_SUFFIX {
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
        (status = 200, description = "Every image's URL (not versions nor variants), all pages; in `images`, each with its current version's URLs", body = ImageList),
        StorageFailures,
    )
)]
pub async fn list_images(State(state): State<AppState>) -> ApiResult<Json<ImageList>> {
    let objects = state.store.list_objects().await?;
    let images = versions::images(&objects);
    let urls = images.iter().map(|i| state.store.url(i.key)).collect();
    let images = images
        .iter()
        .map(|image| listed(&state.store, image))
        .collect();
    Ok(Json(ImageList { images, urls }))
}

/// An image of a listing with its current version's URLs.
pub(super) fn listed(store: &Store, image: &versions::Image<'_>) -> ListedImage {
    let current = image.current.as_ref();
    ListedImage {
        url: store.url(image.key),
        variants: current
            .map(|v| {
                v.variants
                    .iter()
                    .filter_map(|(&size, &(own, webp))| {
                        let own = own.or(webp)?;
                        Some(VariantUrls {
                            size,
                            url: store.url(own),
                            webp_url: store.url(webp.unwrap_or(own)),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
        version_url: current.map(|v| store.url(v.key)),
    }
}

/// A multipart error while reading: over the body limit is 413, anything else 400.
fn body_error(e: &MultipartError, max_image_bytes: u64) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(max_image_bytes)
    } else {
        ApiError::MalformedBody
    }
}

/// Reads the whole `file` field (at most `max` bytes, 413 past it), checking its type
/// from its first bytes as they arrive (415 before the rest is read); returns the bytes
/// and their type. `expected` (the request's length) sizes the buffer in one allocation.
async fn receive(
    field: &mut Field<'_>,
    max: u64,
    expected: u64,
) -> ApiResult<(Vec<u8>, &'static str)> {
    let cap = usize::try_from(max).unwrap_or(usize::MAX);
    let mut buf: Vec<u8> = Vec::new();
    let mut mime = None;
    loop {
        let chunk = match field.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => return Err(body_error(&e, max)),
        };
        if (buf.len() as u64).saturating_add(chunk.len() as u64) > max {
            return Err(ApiError::TooLarge(max));
        }
        if buf.capacity() == 0 {
            let hint = usize::try_from(expected).unwrap_or(usize::MAX);
            buf.reserve_exact(hint.min(cap).max(chunk.len()));
        }
        append(&mut buf, &chunk, cap);
        if mime.is_none() {
            match magic::sniff(&buf, false) {
                Sniff::Image(m) => mime = Some(m),
                Sniff::NeedMore => {}
                Sniff::Refused => return Err(ApiError::UnsupportedType),
            }
        }
    }
    let mime = match mime {
        Some(mime) => mime,
        None => match magic::sniff(&buf, true) {
            Sniff::Image(mime) => mime,
            Sniff::NeedMore | Sniff::Refused => return Err(ApiError::UnsupportedType),
        },
    };
    Ok((buf, mime))
}

/// `Cache-Control` of an image's own key: its content changes with each upload, so
/// caches must ask S3 (a 304 when unchanged) before serving it again.
const OWN_KEY_CACHE: &str = "no-cache";
/// `Cache-Control` of a content-addressed key: its bytes never change.
const VERSION_CACHE: &str = "public, max-age=31536000, immutable";

/// Stores `image` under `key` (with the access rule's `write`: create-only is refused
/// there, atomically, before anything else is stored), then its content-addressed
/// version and variants under `<stem>/` (see [`keys::version_key`]).
async fn store_image(
    store: &Store,
    key: &str,
    write: Write,
    image: Processed,
) -> ApiResult<Uploaded> {
    let full = Bytes::from(image.full);
    store
        .put_cached(key, image.mime, Some(OWN_KEY_CACHE), full.clone(), write)
        .await?;
    let stem = keys::split_extension(key).0;
    let version = keys::version_key(stem, &image.sha256, None, image.ext);
    let mut puts = vec![(version.clone(), image.mime, full)];
    let mut variants = Vec::with_capacity(image.variants.len());
    for variant in image.variants {
        let own = keys::version_key(stem, &image.sha256, Some(variant.px), image.ext);
        puts.push((own.clone(), image.mime, Bytes::from(variant.original)));
        let webp = match variant.webp {
            Some(webp) => {
                let key = keys::version_key(stem, &image.sha256, Some(variant.px), "webp");
                puts.push((key.clone(), "image/webp", Bytes::from(webp)));
                key
            }
            None => own.clone(),
        };
        variants.push(VariantUrls {
            size: variant.px,
            url: store.url(&own),
            webp_url: store.url(&webp),
        });
    }
    futures_util::future::try_join_all(puts.into_iter().map(|(key, mime, body)| async move {
        store
            .put_cached(&key, mime, Some(VERSION_CACHE), body, Write::Replace)
            .await
    }))
    .await?;
    Ok(Uploaded {
        message: "Image uploaded successfully",
        url: store.url(key),
        variants,
        version_url: store.url(&version),
    })
}

/// Appends `chunk`, growing the buffer (when the size was not known up front) by
/// doubling but never far past `cap` (`MAX_IMAGE_BYTES`), so a file never costs much
/// more than its own size in memory.
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
