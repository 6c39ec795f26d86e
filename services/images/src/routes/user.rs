//! `GET /api/images/{user_id}`: one user's objects, for that user (and for auth's
//! account export, which calls it with a short-lived token it mints for the user).
//!
//! The listing is one S3 prefix listing of `<user_id>` ([`Store::user_objects`]): the
//! keys `<user_id>.<ext>` and everything under `<user_id>/` (its versions and
//! variants), never the rest of the bucket. The caller must be the user: a bearer token
//! that verifies and stands (`images::routes::images::token_user`, the uploads' check).

use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use axum::{
    Json,
    extract::{Path, State},
    http::HeaderMap,
};
use serde::Serialize;
use uuid::Uuid;

use super::images::{ListedImage, StorageFailures, listed, token_user};
use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
    store::{Object, Store},
    versions,
};

/// `GET /api/images/{user_id}` answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserImages {
    /// The user's id.
    user_id: Uuid,
    /// Every object of the user, in S3 key order: its images (`<user_id>.<ext>`) and
    /// their versions and variants (`<user_id>/…`).
    objects: Vec<UserObject>,
    /// The user's images (as `GET /list_images` lists them), each with its current
    /// version's URLs.
    images: Vec<ListedImage>,
}

/// One stored object.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserObject {
    /// Its key in the bucket.
    key: String,
    /// Its size, in bytes.
    size: u64,
    /// When it was last written (RFC 3339, UTC).
    #[schema(format = DateTime)]
    last_modified: Option<String>,
    /// Its public URL.
    url: String,
}

impl UserObject {
    fn new(store: &Store, o: &Object) -> Self {
        Self {
            key: o.key.clone(),
            size: o.size,
            last_modified: DateTime::from(o.last_modified)
                .fmt(DateTimeFormat::DateTime)
                .ok(),
            url: store.url(&o.key),
        }
    }
}

/// The user's objects: keys, sizes, times and URLs, and their images with the current
/// version's variants.
#[utoipa::path(
    get,
    path = "/api/images/{user_id}",
    description = "Every object of the user `user_id` (`<user_id>.<ext>` and `<user_id>/…`), \
        from one S3 prefix listing. Only the user's own token (verified, not revoked) reads it.",
    params(("user_id" = Uuid, Path, description = "The user's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's objects", body = UserImages),
        (status = 401, description = "`Token is missing`, `Token expired` or `Invalid token` (also revoked, or its user gone), with `WWW-Authenticate: Bearer`", body = super::ErrorBody),
        (status = 403, description = "`You may only list your own images`: the token is another user's (or the path no user id)", body = super::ErrorBody),
        (status = 503, description = "`Token verification is not configured` (no JWKS_URL, SECRET_KEY or JWT_SECRET), or as below", body = super::ErrorBody),
        StorageFailures,
    )
)]
#[tracing::instrument(name = "user_images", skip_all)]
pub async fn user_images(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> ApiResult<Json<UserImages>> {
    let token = hub_runtime::http::bearer_token(&headers).ok_or(ApiError::TokenMissing)?;
    let verifier = state.jwt.as_ref().ok_or(ApiError::NoTokenKey)?;
    let caller = token_user(verifier, &state, token)
        .await?
        .map_err(|problem| problem.error())?;
    if Uuid::parse_str(&user_id).ok() != Some(caller) {
        tracing::info!(user.id = %caller, "listing another user's images refused");
        return Err(ApiError::NotOwner);
    }
    let objects = state.store.user_objects(&caller.to_string()).await?;
    let images = versions::images(&objects)
        .iter()
        .map(|image| listed(&state.store, image))
        .collect();
    let objects = objects
        .iter()
        .map(|o| UserObject::new(&state.store, o))
        .collect();
    Ok(Json(UserImages {
        user_id: caller,
        objects,
        images,
    }))
}
