//! `GET /profile`, and the bearer-token extractor.

use axum::{
    Json,
    extract::{FromRequestParts, State},
    http::{header, request::Parts},
};
use hub_identity::jwt::{Claims, TokenError};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
    store::users,
};

/// The verified claims of the request's `Authorization: Bearer <token>`.
pub struct Authenticated(pub Claims);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // As the original: the header must start with "Bearer " (else 403), and the
        // token is the second space-separated part.
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.starts_with("Bearer "))
            .ok_or(ApiError::TokenMissing)?;
        let token = value.split(' ').nth(1).unwrap_or_default();
        match state.jwt.verify(token) {
            Ok(claims) => Ok(Self(claims)),
            Err(TokenError::Expired) => Err(ApiError::TokenExpired),
            Err(TokenError::Invalid) => Err(ApiError::InvalidToken),
        }
    }
}

/// The profile body; fields in the original's (sorted) order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Profile {
    email: String,
    user_id: Uuid,
    username: String,
}

/// The caller's profile.
#[utoipa::path(
    get,
    path = "/profile",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's profile", body = Profile),
        (status = 401, description = "Token expired or invalid", body = super::Message),
        (status = 403, description = "Token is missing", body = super::Message),
        (status = 404, description = "User not found", body = super::Message),
        (status = 503, description = "Database unavailable", body = super::Message),
    )
)]
#[tracing::instrument(name = "profile", skip_all, fields(user.id = %claims.user_id))]
pub async fn profile(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
) -> ApiResult<Json<Profile>> {
    let mut conn = state.pool.acquire().await?;
    let user = users::find_by_id(&mut conn, claims.user_id)
        .await?
        .ok_or(ApiError::UserNotFound)?;
    Ok(Json(Profile {
        email: user.email,
        user_id: user.id,
        username: user.username,
    }))
}
