//! `DELETE /api/account` and `GET /api/account/export`: the caller's own account.
//!
//! Deleting asks for the account's password, not only the access token: a token is
//! bearer (a copy taken from a browser or a log works until it expires), and a deletion
//! cannot be undone, so it takes the one thing only the user knows. Wrong passwords count
//! against the account's login throttle. The admins' deletion (`/api/admin/users*`)
//! calls the same use case, `account::deletion::delete_account`, with `By::Admin`.

use axum::{Json, extract::State};
use hub_runtime::http::{
    Failure, RequestId,
    json_body::{FromJsonObject, JsonBody, JsonObject},
};
use secrecy::SecretString;
use serde::Serialize;

use super::{
    login::string_field,
    profile::{Authenticated, TokenFailures},
};
use crate::{
    account::{
        deletion::{self, By, DeletionError},
        export::{self, ExportError},
    },
    error::{ApiError, ApiResult},
    state::AppState,
};

/// `DELETE /api/account` body.
#[derive(utoipa::ToSchema)]
pub struct DeleteAccountRequest {
    /// The account's current password.
    #[schema(value_type = String)]
    password: SecretString,
}

impl FromJsonObject for DeleteAccountRequest {
    type Error = ApiError;
    const FIELDS: &'static str = "password";

    fn from_object(object: JsonObject) -> ApiResult<Self> {
        Ok(Self {
            password: string_field(&object, "password")?.into(),
        })
    }
}

/// `DELETE /api/account` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountDeleted {
    /// `Account deleted`.
    message: &'static str,
}

/// Deletes the caller's account from every store: its PostgreSQL rows at once (its
/// tokens stop working at every service), its sessions and images shortly after, through
/// the `UserDeleted` event (docs/EVENTS.md, "Deletion").
#[utoipa::path(
    delete,
    path = "/api/account",
    security(("bearer" = [])),
    request_body(content = DeleteAccountRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Deleted", body = AccountDeleted),
        (status = 400, description = "Malformed body or missing field", body = super::Message),
        (status = 415, description = "Body not declared as JSON", body = super::Message),
        (status = 429, description = "Too many wrong passwords for the account; see Retry-After", body = super::Message),
        TokenFailures,
    )
)]
#[tracing::instrument(name = "account_delete", skip_all, fields(user.id = %caller.user.id))]
pub async fn delete_account(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    caller: Authenticated,
    JsonBody(req): JsonBody<DeleteAccountRequest>,
) -> ApiResult<Json<AccountDeleted>> {
    let user = caller.user;
    deletion::check_password(&state, user.id, user.password, req.password).await?;
    deletion::delete_account(&state, user.id, By::User, Some(request_id)).await?;
    Ok(Json(AccountDeleted {
        message: "Account deleted",
    }))
}

/// Everything stored about the caller, as one JSON document: from PostgreSQL `user`
/// (every column but the password hash), `logins` (token families), `login_throttle`,
/// `events` (outbox rows naming the account) and `mails` (notifications' records); from
/// session `sessions` (its document, `null` when none); from images `images` (every
/// object of the user: `key`, `size`, `last_modified`, `url`). Session and images are
/// asked server to server with a 60-second token of the caller's login
/// (`account::export`); if either cannot be read the answer is 503, never a partial
/// export.
#[utoipa::path(
    get,
    path = "/api/account/export",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's data", body = Object),
        (status = 503, description = "`Export unavailable: sessions could not be read: …` (or `images`): a store held by another service did not answer usably; nothing exported. Also the database", body = super::Message),
        TokenFailures,
    )
)]
#[tracing::instrument(name = "account_export", skip_all, fields(user.id = %caller.user.id))]
pub async fn export_account(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(
        export::export_account(&state, caller.user.id, caller.token.sid).await?,
    ))
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::Stored(e) => e.into(),
            e @ ExportError::Unavailable { .. } => Self::ExportUnavailable(e.to_string()),
            ExportError::Deactivated => Self::ExportDeactivated,
            ExportError::Token(e) => Failure::Internal(e).into(),
        }
    }
}

impl From<DeletionError> for ApiError {
    fn from(e: DeletionError) -> Self {
        match e {
            DeletionError::NotFound => Self::UserNotFound,
            DeletionError::InvalidCredentials => Self::InvalidCredentials,
            DeletionError::Throttled(secs) => Self::TooManyAttempts(secs),
            DeletionError::Db(e) => e.into(),
            DeletionError::Outbox(e) => e.into(),
            DeletionError::Hashing(e) => e.into(),
            DeletionError::Interrupted(e) => Failure::Unavailable(e.into()).into(),
        }
    }
}
