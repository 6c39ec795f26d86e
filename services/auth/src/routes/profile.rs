//! `GET /profile`, and the bearer-token extractor (verification and revocation).

use axum::{
    Json,
    extract::FromRequestParts,
    http::{header, request::Parts},
};
use hub_identity::jwt::{TokenError, Verified};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
    store::users::{self, User},
};

/// The caller of `Authorization: Bearer <token>`: a verified, unrevoked token and its
/// user, found in one indexed read.
pub struct Authenticated {
    /// The token's claims and `sid`.
    pub token: Verified,
    /// Its user, as stored now.
    pub user: User,
}

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
        let token = match state.jwt.verify(token) {
            Ok(verified) => verified,
            Err(TokenError::Expired) => return Err(ApiError::TokenExpired),
            Err(TokenError::Invalid | TokenError::Unavailable) => {
                return Err(ApiError::InvalidToken);
            }
        };
        let mut conn = state.pool.acquire().await?;
        let (user, standing) = users::find_for_token(&mut conn, token.claims.user_id, token.sid)
            .await?
            .ok_or(ApiError::UserNotFound)?;
        if !standing.admits(&token) {
            tracing::info!(user.id = %user.id, "revoked token refused");
            return Err(ApiError::TokenRevoked);
        }
        Ok(Self { token, user })
    }
}

hub_runtime::error_responses! {
    /// What every route taking an [`Authenticated`] caller may answer besides its own rows.
    pub TokenFailures(super::Message) {
        401 => "`Token expired`, `Invalid token` or `Token has been revoked` (logout, refresh-token reuse, password change, operator)",
        403 => "Token is missing",
        404 => "User not found",
        503 => "Database unavailable",
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
        TokenFailures,
    )
)]
#[tracing::instrument(name = "profile", skip_all, fields(user.id = %caller.user.id))]
pub async fn profile(caller: Authenticated) -> ApiResult<Json<Profile>> {
    let user = caller.user;
    Ok(Json(Profile {
        email: user.email,
        user_id: user.id,
        username: user.username,
    }))
}
