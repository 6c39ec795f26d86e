//! `/api/account/logins*`: the caller's own logins. Also the JSON shape of a login that
//! the administrators' routes (`admin_users`) answer.

use axum::{
    Json,
    extract::{Path, State, rejection::PathRejection},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use hub_runtime::http::Failure;
use serde::Serialize;
use uuid::Uuid;

use super::profile::{Authenticated, TokenFailures};
use crate::{
    account::logins::{self, Login, Others},
    error::{ApiError, ApiResult},
    state::AppState,
};

/// One live login: a device or client that logged in and has not been logged out.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginView {
    /// The login's id (the `sid` claim of its access tokens).
    id: Uuid,
    /// When it logged in (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    created_at: DateTime<Utc>,
    /// When it last refreshed its tokens, else when it logged in.
    #[schema(value_type = String, format = DateTime)]
    last_used_at: DateTime<Utc>,
    /// When its refresh token stops working.
    #[schema(value_type = String, format = DateTime)]
    expires_at: DateTime<Utc>,
    /// The client's address at login (`null` for logins made before it was recorded).
    address: Option<String>,
    /// The client's `User-Agent` at login, cut to 256 characters.
    user_agent: Option<String>,
    /// It is the login of the token that asked.
    current: bool,
}

/// `{"logins": [...]}`, most recently used first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginList {
    logins: Vec<LoginView>,
}

impl LoginList {
    /// `logins`, the one whose id is `current` marked.
    pub(super) fn new(logins: Vec<Login>, current: Option<Uuid>) -> Self {
        let logins = logins
            .into_iter()
            .map(|l| LoginView {
                current: Some(l.id) == current,
                id: l.id,
                created_at: l.created_at,
                last_used_at: l.last_used_at,
                expires_at: l.expires_at,
                address: l.address,
                user_agent: l.user_agent,
            })
            .collect();
        Self { logins }
    }
}

/// `{"revoked": n}`: how many logins a bulk revocation ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Revoked {
    revoked: u64,
}

impl Revoked {
    pub(super) fn new(revoked: u64) -> Self {
        Self { revoked }
    }
}

/// A transaction's failure as a response: the database's, or a shutdown (retry elsewhere).
pub(super) fn tx_error(e: hub_db::TxError) -> ApiError {
    match e {
        hub_db::TxError::Db(e) => e.into(),
        hub_db::TxError::Interrupted(e) => Failure::Unavailable(e.into()).into(),
    }
}

/// A UUID path segment, or a 400 naming it.
pub(super) fn uuid_param(path: Result<Path<Uuid>, PathRejection>, what: &str) -> ApiResult<Uuid> {
    path.map(|Path(id)| id)
        .map_err(|_| ApiError::BadRequest(format!("{what} must be a UUID")))
}

/// The caller's live logins: when each was made and last used, from which address and
/// client, and which is the caller's own.
#[utoipa::path(
    get,
    path = "/api/account/logins",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's live logins, most recently used first", body = LoginList),
        TokenFailures,
    )
)]
#[tracing::instrument(name = "account_logins", skip_all, fields(user.id = %caller.user.id))]
pub async fn list(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<LoginList>> {
    let logins = logins::list(&state.pool, caller.user.id).await?;
    Ok(Json(LoginList::new(logins, caller.token.sid)))
}

/// Revokes one of the caller's logins (its own too: that is a logout): its refresh
/// tokens stop working and its access tokens are refused by every service at once.
#[utoipa::path(
    delete,
    path = "/api/account/logins/{id}",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The login's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "`id must be a UUID`", body = super::Message),
        (status = 404, description = "`Login not found`: not one of the caller's, or already revoked", body = super::Message),
        TokenFailures,
    )
)]
#[tracing::instrument(name = "account_login_revoke", skip_all, fields(user.id = %caller.user.id))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Authenticated,
    id: Result<Path<Uuid>, PathRejection>,
) -> ApiResult<StatusCode> {
    let id = uuid_param(id, "id")?;
    if logins::revoke(&state.pool, caller.user.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::LoginNotFound)
    }
}

/// Revokes every login of the caller but the caller's own. Of two logins revoking each
/// other's at once, exactly one survives: the second answers 401 `Token has been
/// revoked` and changes nothing.
#[utoipa::path(
    post,
    path = "/api/account/logins/revoke-others",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "How many logins were revoked", body = Revoked),
        TokenFailures,
    )
)]
#[tracing::instrument(name = "account_logins_revoke_others", skip_all, fields(user.id = %caller.user.id))]
pub async fn revoke_others(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<Revoked>> {
    let others = logins::revoke_others(&state.pool, caller.user.id, caller.token.sid)
        .await
        .map_err(tx_error)?;
    match others {
        Others::Revoked(n) => Ok(Json(Revoked::new(n))),
        Others::KeepGone => Err(ApiError::TokenRevoked),
    }
}
