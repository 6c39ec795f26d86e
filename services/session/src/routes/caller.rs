//! The authenticated caller: a verified, unrevoked bearer token whose user still exists.

use axum::{extract::FromRequestParts, http::request::Parts};
use hub_identity::{
    jwt::TokenError,
    revocation::{self, Check},
};
use hub_runtime::http::Failure;
use uuid::Uuid;

use crate::{error::ApiError, state::AppState};

hub_runtime::error_responses! {
    /// What every route taking a [`Caller`] (all of them read or write MongoDB) may answer
    /// besides its own rows.
    pub CallerFailures(super::Message) {
        401 => "`Invalid or expired token`, `User not found` (its user no longer exists) or `Token has been revoked`",
        403 => "No token provided",
        500 => "Unexpected failure",
        503 => "MongoDB or PostgreSQL unavailable",
    }
}

/// The caller named by `Authorization: Bearer <jwt>`.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's `user_id`, which keys the caller's session.
    pub user_id: Uuid,
}

impl Caller {
    /// The `userId` stored in the caller's session document (`str(uuid)` in auth).
    pub fn key(&self) -> String {
        self.user_id.to_string()
    }

    /// Only the caller's own session may be touched (the original let any token read,
    /// change or delete anyone's). The path must name the caller's id; any other path
    /// (another user's id, or a username, which the legacy front-end sends after login
    /// and then creates the session when told 404) answers as a missing session did,
    /// which also tells nobody which ids exist.
    pub fn must_own(&self, path_user_id: &str) -> Result<(), ApiError> {
        match Uuid::parse_str(path_user_id) {
            Ok(id) if id == self.user_id => Ok(()),
            _ => Err(ApiError::SessionNotFound),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // The original took the second space-separated part whatever the scheme; we
        // require the Bearer scheme (any case), and anything else is "no token".
        let token =
            hub_runtime::http::bearer_token(&parts.headers).ok_or(ApiError::TokenMissing)?;
        // Expired and invalid share the original's one message.
        let token = match state.jwt.verify(token).await {
            Ok(token) => token,
            Err(e @ TokenError::Unavailable) => return Err(Failure::Unavailable(e.into()).into()),
            Err(TokenError::Expired | TokenError::Invalid) => return Err(ApiError::InvalidToken),
        };
        let user_id = token.claims.user_id;
        match revocation::check(&state.pool, &token).await? {
            Check::Admitted => Ok(Self { user_id }),
            Check::UnknownUser => {
                tracing::info!(user.id = %user_id, "valid token for a user that no longer exists");
                Err(ApiError::UnknownUser)
            }
            Check::Revoked => {
                tracing::info!(user.id = %user_id, "revoked token refused");
                Err(ApiError::TokenRevoked)
            }
        }
    }
}
