//! `/api/admin/users*`: administration of users, and [`RequireAdmin`], the guard every
//! admin route takes.
//!
//! The admin role is checked twice: the access token must carry it (`roles` claim, put
//! there at login or refresh from `"user".roles`), and the stored row must still grant
//! it, read on each request. So an operator's `auth users revoke-admin` takes effect at
//! once, on every instance, while the demoted admin's token keeps working for
//! everything else; and a role granted since the token was issued needs a refresh or a
//! new login first (the claim is missing until then).

use axum::{
    Json,
    extract::{
        FromRequestParts, Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
    http::{StatusCode, request::Parts},
};
use chrono::{DateTime, Utc};
use hub_runtime::http::{Failure, RequestId};
use serde::Serialize;
use uuid::Uuid;

use super::{
    logins::{LoginList, Revoked, tx_error, uuid_param},
    profile::Authenticated,
};
use crate::{
    account::{
        admin::{self, ADMIN, AccountError, Filter, UserRecord},
        deletion::{self, By},
        export,
        logins::{self, Others},
    },
    error::{ApiError, ApiResult},
    state::AppState,
    store::{tokens, users},
};

/// An administrator's request: a verified, unrevoked token that carries the `admin`
/// role, of a user whose stored row still grants it and who is not deactivated.
/// 403 `Admin role required` otherwise (after [`Authenticated`]'s own refusals).
pub struct RequireAdmin(pub Authenticated);

impl FromRequestParts<AppState> for RequireAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Authenticated::from_request_parts(parts, state).await?;
        if !caller.token.claims.has_role(ADMIN) {
            tracing::info!(user.id = %caller.user.id, "admin route refused: no admin claim");
            return Err(ApiError::AdminRequired);
        }
        let access = users::access(&mut *state.pool.acquire().await?, caller.user.id)
            .await?
            .ok_or(ApiError::UserNotFound)?;
        if !access.has_role(ADMIN) {
            tracing::info!(user.id = %caller.user.id, "admin route refused: role revoked since the token was issued");
            return Err(ApiError::AdminRequired);
        }
        Ok(Self(caller))
    }
}

hub_runtime::error_responses! {
    /// What every admin route may answer besides its own rows.
    pub AdminFailures(super::Message) {
        401 => "`Token expired`, `Invalid token` or `Token has been revoked`",
        403 => "`Token is missing`, or `Admin role required`: the token lacks the `admin` claim or the role was revoked since",
        404 => "`User not found`",
        503 => "Database unavailable",
    }
}

/// A user as an administrator sees it (never the password hash or the document number).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminUser {
    id: Uuid,
    username: String,
    email: String,
    first_name: String,
    last_name: String,
    city: String,
    /// `false` while deactivated: no login, every token refused.
    is_active: bool,
    /// When it was deactivated, or `null`.
    #[schema(value_type = Option<String>, format = DateTime)]
    deactivated_at: Option<DateTime<Utc>>,
    /// Granted roles (`admin` is the only one).
    roles: Vec<String>,
}

impl From<UserRecord> for AdminUser {
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            username: u.username,
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            city: u.city,
            is_active: u.deactivated_at.is_none(),
            deactivated_at: u.deactivated_at,
            roles: u.roles,
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserPage {
    users: Vec<AdminUser>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

/// The query of `GET /api/admin/users`, read by hand so that every mistake is a JSON 400.
fn filter(params: Vec<(String, String)>) -> ApiResult<Filter> {
    let bad = |m: &str| ApiError::BadRequest(m.to_owned());
    let mut filter = Filter {
        limit: admin::DEFAULT_PAGE,
        ..Filter::default()
    };
    for (name, value) in params {
        match name.as_str() {
            "limit" => {
                filter.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=admin::MAX_PAGE).contains(n))
                    .ok_or_else(|| bad("limit must be a whole number from 1 to 200"))?;
            }
            "cursor" if !value.is_empty() => filter.cursor = Some(value),
            "cursor" => {}
            "q" if !value.is_empty() => filter.prefix = Some(value),
            "q" => {}
            "active" => {
                filter.active = Some(match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad("active must be true or false")),
                });
            }
            _ => {
                return Err(bad(
                    "Unknown query parameter; known: limit, cursor, q, active",
                ));
            }
        }
    }
    if [&filter.cursor, &filter.prefix]
        .iter()
        .any(|v| v.as_deref().is_some_and(|v| v.contains('\0')))
    {
        return Err(bad("Query parameters cannot hold NUL"));
    }
    Ok(filter)
}

/// Users, by username, a page at a time; filtered by username or email prefix and by
/// state.
#[utoipa::path(
    get,
    path = "/api/admin/users",
    security(("bearer" = [])),
    params(
        ("limit" = Option<u32>, Query, description = "Users per page, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The previous page's `next_cursor`"),
        ("q" = Option<String>, Query, description = "Username or email starts with this (case-insensitive)"),
        ("active" = Option<bool>, Query, description = "`true`: active accounts only; `false`: deactivated only"),
    ),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 400, description = "A malformed or unknown query parameter", body = super::Message),
        AdminFailures,
    )
)]
#[tracing::instrument(name = "admin_users_list", skip_all, fields(admin.id = %caller.0.user.id))]
pub async fn list(
    State(state): State<AppState>,
    caller: RequireAdmin,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Json<UserPage>> {
    let Ok(Query(params)) = params else {
        return Err(ApiError::BadRequest("Malformed query string".into()));
    };
    let page = admin::list(&state.pool, filter(params)?).await?;
    Ok(Json(UserPage {
        users: page.users.into_iter().map(AdminUser::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One user.
#[utoipa::path(
    get,
    path = "/api/admin/users/{id}",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = AdminUser),
        (status = 400, description = "`id must be a UUID`", body = super::Message),
        AdminFailures,
    )
)]
#[tracing::instrument(name = "admin_user_get", skip_all, fields(admin.id = %caller.0.user.id))]
pub async fn get(
    State(state): State<AppState>,
    caller: RequireAdmin,
    id: Result<Path<Uuid>, PathRejection>,
) -> ApiResult<Json<AdminUser>> {
    let id = uuid_param(id, "id")?;
    let user = admin::find(&state.pool, id)
        .await?
        .ok_or(ApiError::UserNotFound)?;
    Ok(Json(user.into()))
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::NotFound => Self::UserNotFound,
            AccountError::Oneself => {
                Self::BadRequest("An administrator cannot deactivate their own account".into())
            }
            AccountError::Db(e) => e.into(),
            AccountError::Outbox(e) => e.into(),
            AccountError::Interrupted(e) => Failure::Unavailable(e.into()).into(),
        }
    }
}

/// Deactivates an account: from the answer on, its user cannot log in or refresh, and
/// every token of theirs is refused by every service. Idempotent.
#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/deactivate",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user, deactivated", body = AdminUser),
        (status = 400, description = "`id must be a UUID`, or the administrator's own account", body = super::Message),
        AdminFailures,
    )
)]
#[tracing::instrument(name = "admin_user_deactivate", skip_all, fields(admin.id = %caller.0.user.id))]
pub async fn deactivate(
    State(state): State<AppState>,
    caller: RequireAdmin,
    id: Result<Path<Uuid>, PathRejection>,
) -> ApiResult<Json<AdminUser>> {
    let id = uuid_param(id, "id")?;
    let user = admin::set_active(&state, caller.0.user.id, id, false).await?;
    Ok(Json(user.into()))
}

/// Reactivates an account: its user may log in again (tokens from before stay
/// revoked). Idempotent.
#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/reactivate",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user, active", body = AdminUser),
        (status = 400, description = "`id must be a UUID`", body = super::Message),
        AdminFailures,
    )
)]
#[tracing::instrument(name = "admin_user_reactivate", skip_all, fields(admin.id = %caller.0.user.id))]
pub async fn reactivate(
    State(state): State<AppState>,
    caller: RequireAdmin,
    id: Result<Path<Uuid>, PathRejection>,
) -> ApiResult<Json<AdminUser>> {
    let id = uuid_param(id, "id")?;
    let user = admin::set_active(&state, caller.0.user.id, id, true).await?;
    Ok(Json(user.into()))
}

/// The user `id`, or 404.
async fn existing(state: &AppState, id: Uuid) -> ApiResult<Uuid> {
    admin::find(&state.pool, id)
        .await?
        .map(|u| u.id)
        .ok_or(ApiError::UserNotFound)
}

/// A user's live logins (`current` marks the administrator's own, when listing oneself).
#[utoipa::path(
    get,
    path = "/api/admin/users/{id}/logins",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user's live logins, most recently used first", body = LoginList),
        (status = 400, description = "`id must be a UUID`", body = super::Message),
        AdminFailures,
    )
)]
#[tracing::instrument(name = "admin_user_logins", skip_all, fields(admin.id = %caller.0.user.id))]
pub async fn logins(
    State(state): State<AppState>,
    caller: RequireAdmin,
    id: Result<Path<Uuid>, PathRejection>,
) -> ApiResult<Json<LoginList>> {
    let id = existing(&state, uuid_param(id, "id")?).await?;
    let list = logins::list(&state.pool, id).await?;
    Ok(Json(LoginList::new(list, caller.0.token.sid)))
}

/// Revokes one login of a user: its refresh tokens stop working and its access tokens
/// are refused by every service at once.
#[utoipa::path(
    delete,
    path = "/api/admin/users/{id}/logins/{login_id}",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "The user's id"),
        ("login_id" = Uuid, Path, description = "The login's id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "An id that is not a UUID", body = super::Message),
        (status = 404, description = "`User not found`, or `Login not found`: not one of the user's, or already revoked", body = super::Message),
        AdminFailures,
    )
)]
#[tracing::instrument(name = "admin_user_login_revoke", skip_all, fields(admin.id = %caller.0.user.id))]
pub async fn revoke_login(
    State(state): State<AppState>,
    caller: RequireAdmin,
    ids: Result<Path<(Uuid, Uuid)>, PathRejection>,
) -> ApiResult<StatusCode> {
    let Ok(Path((id, login_id))) = ids else {
        return Err(ApiError::BadRequest("id and login_id must be UUIDs".into()));
    };
    let id = existing(&state, id).await?;
    if logins::revoke(&state.pool, id, login_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::LoginNotFound)
    }
}

/// Revokes everything a user holds: every login, and every access token issued until
/// now (tokens without a login too). The user logs in again.
#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/logins/revoke-all",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "How many live logins were revoked", body = Revoked),
        (status = 400, description = "`id must be a UUID`", body = super::Message),
        AdminFailures,
    )
)]
#[tracing::instrument(name = "admin_user_logins_revoke_all", skip_all, fields(admin.id = %caller.0.user.id))]
pub async fn revoke_all(
    State(state): State<AppState>,
    caller: RequireAdmin,
    id: Result<Path<Uuid>, PathRejection>,
) -> ApiResult<Json<Revoked>> {
    let id = uuid_param(id, "id")?;
    let revoked = match logins::revoke_others(&state.pool, id, None)
        .await
        .map_err(tx_error)?
    {
        Others::Revoked(n) => n,
        Others::KeepGone => return Err(ApiError::UserNotFound),
    };
    // And the tokens that belong to no login (minted by the original auth).
    tokens::revoke_all(&mut *state.pool.acquire().await?, id).await?;
    tracing::info!(user.id = %id, admin.id = %caller.0.user.id, "every token of the user revoked");
    Ok(Json(Revoked::new(revoked)))
}

/// `DELETE /api/admin/users/{id}` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminDeleted {
    /// `Account deleted`.
    message: &'static str,
}

/// Deletes a user's account from every store, as `DELETE /api/account` does for its own
/// user (the same use case, `account::deletion::delete_account`, logged with the
/// administrator's id in `deleted_account.by_admin`). Not the administrator's own account:
/// that one goes through `DELETE /api/account`, with its password.
#[utoipa::path(
    delete,
    path = "/api/admin/users/{id}",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "Deleted", body = AdminDeleted),
        (status = 400, description = "`id must be a UUID`, or the administrator's own account", body = super::Message),
        AdminFailures,
    )
)]
#[tracing::instrument(name = "admin_user_delete", skip_all, fields(admin.id = %caller.0.user.id))]
pub async fn delete(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    caller: RequireAdmin,
    id: Result<Path<Uuid>, PathRejection>,
) -> ApiResult<Json<AdminDeleted>> {
    let id = uuid_param(id, "id")?;
    let admin = caller.0.user.id;
    if id == admin {
        return Err(ApiError::BadRequest(
            "An administrator deletes their own account with DELETE /api/account".into(),
        ));
    }
    deletion::delete_account(&state, id, By::Admin(admin), Some(request_id)).await?;
    Ok(Json(AdminDeleted {
        message: "Account deleted",
    }))
}

/// Everything stored about a user, as `GET /api/account/export` gives it to the user
/// (sessions and images read with a 60-second token of the user that belongs to no
/// login).
#[utoipa::path(
    get,
    path = "/api/admin/users/{id}/export",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user's data", body = Object),
        (status = 400, description = "`id must be a UUID`", body = super::Message),
        (status = 409, description = "`User is deactivated: …`: session and images refuse its tokens; reactivate it to export", body = super::Message),
        (status = 503, description = "`Export unavailable: sessions could not be read: …` (or `images`); nothing exported", body = super::Message),
        AdminFailures,
    )
)]
#[tracing::instrument(name = "admin_user_export", skip_all, fields(admin.id = %caller.0.user.id))]
pub async fn export(
    State(state): State<AppState>,
    caller: RequireAdmin,
    id: Result<Path<Uuid>, PathRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let id = existing(&state, uuid_param(id, "id")?).await?;
    Ok(Json(export::export_account(&state, id, None).await?))
}
