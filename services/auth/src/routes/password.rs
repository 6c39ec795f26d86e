//! `POST /api/account/password` (change), `POST /api/account/password/forgot` and
//! `POST /api/account/password/reset`: translation only; the use cases are
//! `account::password`.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
};
use hub_runtime::http::{
    Failure, RequestId,
    client_ip::ClientIp,
    json_body::{FromJsonObject, JsonBody, JsonObject},
};
use secrecy::SecretString;

use super::{
    login::{IssueFailures, TokenResponse, string_field},
    profile::{Authenticated, TokenFailures},
};
use crate::{
    account::password::{self, PasswordError},
    error::{ApiError, ApiResult},
    login::ClientAddr,
    state::AppState,
    store::tokens,
};

/// `POST /api/account/password` body.
#[derive(utoipa::ToSchema)]
pub struct ChangeRequest {
    /// The password now.
    #[schema(value_type = String)]
    current_password: SecretString,
    /// The new password: the policy's length (`PASSWORD_MIN_LENGTH`, 8, to
    /// `PASSWORD_MAX_LENGTH`, 128, characters) and, if configured, not a breached one.
    #[schema(value_type = String)]
    new_password: SecretString,
}

impl FromJsonObject for ChangeRequest {
    type Error = ApiError;
    const FIELDS: &'static str = "current_password and new_password";

    fn from_object(object: JsonObject) -> ApiResult<Self> {
        Ok(Self {
            current_password: string_field(&object, "current_password")?.into(),
            new_password: string_field(&object, "new_password")?.into(),
        })
    }
}

/// `POST /api/account/password/forgot` body.
#[derive(utoipa::ToSchema)]
pub struct ForgotRequest {
    /// The account's username or email.
    login: String,
}

impl FromJsonObject for ForgotRequest {
    type Error = ApiError;
    const FIELDS: &'static str = "login";

    fn from_object(object: JsonObject) -> ApiResult<Self> {
        Ok(Self {
            login: string_field(&object, "login")?,
        })
    }
}

/// `POST /api/account/password/reset` body.
#[derive(utoipa::ToSchema)]
pub struct ResetRequest {
    /// The code from the mail.
    #[schema(value_type = String)]
    code: SecretString,
    /// The new password (the same policy as a change).
    #[schema(value_type = String)]
    new_password: SecretString,
}

impl FromJsonObject for ResetRequest {
    type Error = ApiError;
    const FIELDS: &'static str = "code and new_password";

    fn from_object(object: JsonObject) -> ApiResult<Self> {
        Ok(Self {
            code: string_field(&object, "code")?.into(),
            new_password: string_field(&object, "new_password")?.into(),
        })
    }
}

/// The answer of forgot and reset.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Done {
    /// What happened, in words.
    message: &'static str,
}

/// Changes the caller's password. Needs the current password; the new one must meet
/// the password policy. Every token the user holds is revoked, this one too, and the
/// answer carries the caller's new login (`{"token","refresh_token"}`, as `/login`), so
/// it stays signed in while every other login is signed out. The user gets a notice
/// mail (`PasswordChanged`).
#[utoipa::path(
    post,
    path = "/api/account/password",
    security(("bearer" = [])),
    request_body(content = ChangeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed: the caller's new tokens; every earlier token is revoked", body = TokenResponse),
        (status = 400, description = "`Current password is wrong` (counted as a failed login of the account), `Invalid new_password: ...` (too short, too long, breached), a malformed body or a missing field", body = super::Message),
        (status = 409, description = "Another change of the same password won meanwhile; nothing was written", body = super::Message),
        (status = 429, description = "Too many failed attempts on this account; see Retry-After", body = super::Message),
        (status = 415, description = "Body not declared as JSON", body = super::Message),
        TokenFailures,
    )
)]
#[tracing::instrument(name = "password_change", skip_all, fields(user.id = %caller.user.id))]
pub async fn change(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    ClientIp(from): ClientIp,
    headers: HeaderMap,
    caller: Authenticated,
    JsonBody(req): JsonBody<ChangeRequest>,
) -> ApiResult<impl IntoResponse> {
    // The new login the change answers with is listed like any other: from here.
    let origin = tokens::Origin {
        address: Some(from),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(tokens::USER_AGENT_MAX_CHARS).collect()),
    };
    let issued = password::change(
        &state,
        caller.user,
        req.current_password,
        req.new_password,
        origin,
        request_id,
    )
    .await?;
    Ok(TokenResponse::reply(issued))
}

/// Asks for a password reset code for the account a username or email names. The answer
/// is the same, 202, after the same work, whether or not that account exists; if it
/// does, its email gets a single-use code that expires (`PASSWORD_RESET_TTL_SECS`, 30
/// minutes). Limited per client address and per login (429), and per account (past it,
/// nothing more is mailed, and the answer is the same).
#[utoipa::path(
    post,
    path = "/api/account/password/forgot",
    request_body(content = ForgotRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted: if the account exists, a code is on its way", body = Done),
        (status = 429, description = "Too many requests from this address or for this login; see Retry-After", body = super::Message),
        IssueFailures,
    )
)]
#[tracing::instrument(name = "password_forgot", skip_all)]
pub async fn forgot(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    ClientIp(from): ClientIp,
    JsonBody(req): JsonBody<ForgotRequest>,
) -> ApiResult<impl IntoResponse> {
    password::forgot(&state, ClientAddr(from), req.login, request_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Done {
            message: "If the account exists, a code has been sent to its email",
        }),
    ))
}

/// Sets a new password with a code from the reset mail. A code works once (two uses at
/// once, on any instances: one succeeds) and uses up the user's other codes; the new
/// password must meet the policy (a refused one leaves the code usable). Every token of
/// the user is revoked; the user gets a notice mail (`PasswordChanged`).
#[utoipa::path(
    post,
    path = "/api/account/password/reset",
    request_body(content = ResetRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Password reset; every token of the user revoked", body = Done),
        (status = 400, description = "`Invalid or expired code` (unknown, used or expired), `Invalid new_password: ...`, a malformed body or a missing field", body = super::Message),
        IssueFailures,
    )
)]
#[tracing::instrument(name = "password_reset", skip_all)]
pub async fn reset(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    JsonBody(req): JsonBody<ResetRequest>,
) -> ApiResult<Json<Done>> {
    password::reset(&state, req.code, req.new_password, request_id).await?;
    Ok(Json(Done {
        message: "Password reset",
    }))
}

impl From<PasswordError> for ApiError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::WrongPassword => Self::CurrentPasswordWrong,
            PasswordError::Throttled(secs) => Self::TooManyRequests(secs),
            PasswordError::Refused(refusal) => {
                Self::BadRequest(format!("Invalid new_password: {refusal}"))
            }
            PasswordError::Conflict => Self::PasswordConflict,
            PasswordError::InvalidCode => Self::BadRequest("Invalid or expired code".into()),
            PasswordError::CheckUnavailable(why) => Failure::Unavailable(anyhow::anyhow!(
                "breached-password check unavailable: {why}"
            ))
            .into(),
            PasswordError::Db(e) => e.into(),
            PasswordError::Outbox(e) => e.into(),
            PasswordError::Hashing(e) => e.into(),
            PasswordError::Token(e) => Failure::Internal(e).into(),
            PasswordError::Interrupted(e) => Failure::Unavailable(e.into()).into(),
        }
    }
}
