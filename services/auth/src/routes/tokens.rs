//! `POST /token/refresh`, `POST /logout` and `GET /.well-known/jwks.json`.

use axum::{Json, extract::State, http::header, response::IntoResponse};
use hub_runtime::http::{
    Failure,
    json_body::{FromJsonObject, JsonBody, JsonObject},
};
use secrecy::SecretString;

use super::{
    login::{IssueFailures, TokenResponse, string_field},
    profile::{Authenticated, TokenFailures},
};
use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
    tokens::{self, RefreshError},
};

/// `POST /token/refresh` body.
#[derive(utoipa::ToSchema)]
pub struct RefreshRequest {
    /// The refresh token from the login or the last refresh.
    #[schema(value_type = String)]
    refresh_token: SecretString,
}

impl FromJsonObject for RefreshRequest {
    type Error = ApiError;
    const FIELDS: &'static str = "refresh_token";

    fn from_object(object: JsonObject) -> ApiResult<Self> {
        let refresh_token = string_field(&object, "refresh_token")?.into();
        Ok(Self { refresh_token })
    }
}

/// Exchanges a refresh token for a new access token and a new refresh token; the one
/// presented is used up.
///
/// Presenting a refresh token again within `REFRESH_REUSE_GRACE_SECS` (30 s) of its
/// exchange (two tabs, a retry after a lost answer) answers the same new refresh token,
/// on any instance, so one refresh token of the login stays live. Presenting it later
/// revokes every token of its login (reuse detection).
#[utoipa::path(
    post,
    path = "/token/refresh",
    request_body(content = RefreshRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 401, description = "`Invalid refresh token`: unknown, already used before the grace (its login is now revoked), revoked or expired", body = super::Message),
        IssueFailures,
    )
)]
#[tracing::instrument(name = "token_refresh", skip_all)]
pub async fn refresh(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<RefreshRequest>,
) -> ApiResult<impl IntoResponse> {
    let issued = tokens::refresh(&state, &req.refresh_token).await?;
    Ok(TokenResponse::reply(issued))
}

impl From<RefreshError> for ApiError {
    fn from(e: RefreshError) -> Self {
        match e {
            RefreshError::Refused => Self::InvalidRefreshToken,
            RefreshError::Db(e) => e.into(),
            RefreshError::Token(e) => Failure::Internal(e).into(),
            RefreshError::Interrupted(e) => Failure::Unavailable(e.into()).into(),
        }
    }
}

/// `POST /logout` answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct LoggedOut {
    /// Always `Logged out`.
    message: &'static str,
}

/// Revokes the caller's login: this access token, and every access and refresh token
/// the same login issued. Other logins of the user stay valid.
///
/// A token without `sid` (minted by the original auth service) belongs to no login:
/// logging it out revokes every token of its user.
#[utoipa::path(
    post,
    path = "/logout",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Revoked", body = LoggedOut),
        TokenFailures,
    )
)]
#[tracing::instrument(name = "logout", skip_all, fields(user.id = %caller.user.id))]
pub async fn logout(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<LoggedOut>> {
    tokens::logout(&state, &caller.token).await?;
    Ok(Json(LoggedOut {
        message: "Logged out",
    }))
}

/// The public keys that verify auth's tokens (RFC 7517), while it signs with EdDSA:
/// the current signing key and any still accepted or about to be. 404 in HS256 mode.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    responses(
        (status = 200, description = "`{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\",\"kid\",\"alg\":\"EdDSA\",\"use\":\"sig\"}]}`; `kid` is the key's RFC 7638 thumbprint", content_type = "application/json"),
        (status = 404, description = "Tokens are signed with HS256: no public key", body = super::Message),
    )
)]
pub async fn jwks(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let doc = state.jwt.jwks().ok_or(ApiError::NoPublicKeys)?;
    Ok((
        // Verifiers also re-fetch on an unknown `kid`; a short cache keeps rotation quick.
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(doc.clone()),
    ))
}
