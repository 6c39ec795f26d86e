//! `/api/account*`: the caller's own record, profile update, email change and email
//! verification (use cases in `crate::account`).

use axum::{Json, extract::State, http::StatusCode};
use hub_runtime::http::{
    RequestId,
    json_body::{self, FieldError, FromJsonObject, JsonBody, JsonObject},
};
use secrecy::SecretString;
use serde::Serialize;

use super::{Message, login::string_field, profile::Authenticated};
use crate::{
    account::{
        email,
        profile::{self, Account, ProfileChange},
    },
    error::{ApiError, ApiResult},
    state::AppState,
};

hub_runtime::error_responses! {
    /// What every `/api/account*` route reading a JSON body may answer besides its own rows.
    pub BodyFailures(super::Message) {
        415 => "Body not declared as JSON",
        503 => "Database unavailable",
    }
}

/// The caller's whole record: names, city, dni, email and whether it is verified, a
/// pending email change, and when the row was last written.
#[utoipa::path(
    get,
    path = "/api/account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's record", body = Account),
        super::profile::TokenFailures,
    )
)]
#[tracing::instrument(name = "account", skip_all, fields(user.id = %caller.user.id))]
pub async fn account(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<Account>> {
    let mut conn = state.pool.acquire().await?;
    let account = profile::read(&mut conn, caller.user.id)
        .await?
        .ok_or(ApiError::UserNotFound)?;
    Ok(Json(account))
}

/// `PATCH /api/account/profile` body: any of the fields; an absent one is kept.
#[derive(utoipa::ToSchema)]
pub struct ProfileRequest {
    /// First name (trimmed; 1 to 100 characters, no control characters).
    first_name: Option<String>,
    /// Last name (as first_name).
    last_name: Option<String>,
    /// City (as first_name).
    city: Option<String>,
}

/// The optional string field `name`: absent or null is `None`; else it must be a string.
fn optional_string(object: &JsonObject, name: &str) -> ApiResult<Option<String>> {
    match json_body::string_field(object, name) {
        Ok(text) => Ok(Some(text.to_owned())),
        Err(FieldError::Missing) => Ok(None),
        Err(FieldError::NotAString) => Err(ApiError::BadRequest(format!(
            "Field {name} must be a string"
        ))),
    }
}

impl FromJsonObject for ProfileRequest {
    type Error = ApiError;
    const FIELDS: &'static str = "first_name, last_name or city";

    fn from_object(object: JsonObject) -> ApiResult<Self> {
        for name in object.keys() {
            match name.as_str() {
                "first_name" | "last_name" | "city" => {}
                "email" => {
                    return Err(ApiError::BadRequest(
                        "The email changes through POST /api/account/email".into(),
                    ));
                }
                _ => {
                    return Err(ApiError::BadRequest(format!(
                        "Field {name} cannot be updated: give first_name, last_name or city"
                    )));
                }
            }
        }
        Ok(Self {
            first_name: optional_string(&object, "first_name")?,
            last_name: optional_string(&object, "last_name")?,
            city: optional_string(&object, "city")?,
        })
    }
}

/// Changes the caller's names or city, with registration's validation. A change records
/// `UserUpdated`; `updated_at` is set by the database on every write. Answers the
/// record as it is now.
#[utoipa::path(
    patch,
    path = "/api/account/profile",
    security(("bearer" = [])),
    request_body(content = ProfileRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Updated (or already so): the caller's record", body = Account),
        (status = 400, description = "Malformed body, nothing to update, or an invalid field (`Invalid city: must not be empty`)", body = Message),
        BodyFailures,
        super::profile::TokenFailures,
    )
)]
#[tracing::instrument(name = "profile_update", skip_all, fields(user.id = %caller.user.id))]
pub async fn update_profile(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    caller: Authenticated,
    JsonBody(req): JsonBody<ProfileRequest>,
) -> ApiResult<Json<Account>> {
    let change = ProfileChange {
        first_name: req.first_name,
        last_name: req.last_name,
        city: req.city,
    };
    let account = profile::update(&state, caller.user.id, change, request_id).await?;
    Ok(Json(account))
}

/// `POST /api/account/email` body.
#[derive(utoipa::ToSchema)]
pub struct EmailChangeRequest {
    /// The new address (registration's rules).
    new_email: String,
    /// The current password.
    #[schema(value_type = String)]
    password: SecretString,
}

impl FromJsonObject for EmailChangeRequest {
    type Error = ApiError;
    const FIELDS: &'static str = "new_email and password";

    fn from_object(object: JsonObject) -> ApiResult<Self> {
        Ok(Self {
            new_email: string_field(&object, "new_email")?,
            password: string_field(&object, "password")?.into(),
        })
    }
}

/// `POST /api/account/email` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmailChangeAccepted {
    /// What happens next.
    message: &'static str,
    /// Where the code went.
    pending_email: String,
    /// Minutes until the code expires.
    expires_in_minutes: u32,
}

/// Asks to change the caller's email: a code is mailed to the new address, and the
/// change happens when it comes back (`POST /api/account/email/verify`); then the old
/// address gets a notice.
#[utoipa::path(
    post,
    path = "/api/account/email",
    security(("bearer" = [])),
    request_body(content = EmailChangeRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "A code was mailed to the new address", body = EmailChangeAccepted),
        (status = 400, description = "Malformed body, missing field, or not an email address", body = Message),
        (status = 403, description = "`Wrong password` (or `Token is missing`)", body = Message),
        (status = 409, description = "`Email already registered`", body = Message),
        (status = 429, description = "A code was mailed less than `EMAIL_CODE_RESEND_SECS` ago; see Retry-After", body = Message),
        BodyFailures,
        super::profile::TokenFailures,
    )
)]
#[tracing::instrument(name = "email_change", skip_all, fields(user.id = %caller.user.id))]
pub async fn change_email(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    caller: Authenticated,
    JsonBody(req): JsonBody<EmailChangeRequest>,
) -> ApiResult<(StatusCode, Json<EmailChangeAccepted>)> {
    let requested = email::request_change(
        &state,
        &caller.user,
        &req.new_email,
        req.password,
        request_id,
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(EmailChangeAccepted {
            message: "A confirmation code was sent to the new address",
            pending_email: requested.new_email,
            expires_in_minutes: requested.expires_in_minutes,
        }),
    ))
}

/// `POST /api/account/email/verify` body.
#[derive(utoipa::ToSchema)]
pub struct VerifyRequest {
    /// The code from the mail.
    #[schema(value_type = String)]
    code: SecretString,
}

impl FromJsonObject for VerifyRequest {
    type Error = ApiError;
    const FIELDS: &'static str = "code";

    fn from_object(object: JsonObject) -> ApiResult<Self> {
        Ok(Self {
            code: string_field(&object, "code")?.into(),
        })
    }
}

/// `POST /api/account/email/verify` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Verified {
    /// The account's email, now verified.
    email: String,
    /// Always true.
    email_verified: bool,
    /// `registration` (the email verified) or `email_change` (the email changed).
    confirmed: &'static str,
}

/// Uses a code from a mail: verifies the account's email, or completes an email change.
/// No token needed (the code is 160 random bits and works once), so it works while
/// `REQUIRE_VERIFIED_EMAIL` refuses the login.
#[utoipa::path(
    post,
    path = "/api/account/email/verify",
    request_body(content = VerifyRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Confirmed", body = Verified),
        (status = 400, description = "`Invalid or expired code` (unknown, used or expired), or a malformed body", body = Message),
        (status = 409, description = "`Email already registered`: another account took the new address meanwhile (the code is used up)", body = Message),
        BodyFailures,
    )
)]
#[tracing::instrument(name = "email_verify", skip_all)]
pub async fn verify(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    JsonBody(req): JsonBody<VerifyRequest>,
) -> ApiResult<Json<Verified>> {
    use secrecy::ExposeSecret as _;
    let confirmed = email::confirm(&state, req.code.expose_secret(), request_id).await?;
    Ok(Json(Verified {
        email: confirmed.email,
        email_verified: true,
        confirmed: confirmed.purpose.as_str(),
    }))
}

/// `POST /api/account/email/verify/resend` body.
#[derive(utoipa::ToSchema)]
pub struct ResendRequest {
    /// The account's email.
    email: String,
}

impl FromJsonObject for ResendRequest {
    type Error = ApiError;
    const FIELDS: &'static str = "email";

    fn from_object(object: JsonObject) -> ApiResult<Self> {
        Ok(Self {
            email: string_field(&object, "email")?,
        })
    }
}

/// Mails a new verification code to an unverified account's email (at most once per
/// `EMAIL_CODE_RESEND_SECS`). The answer is the same whether or not such an account
/// exists.
#[utoipa::path(
    post,
    path = "/api/account/email/verify/resend",
    request_body(content = ResendRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "If the address is an unverified account's, a code is on its way", body = Message),
        (status = 400, description = "Malformed body, or not an email address", body = Message),
        BodyFailures,
    )
)]
#[tracing::instrument(name = "email_verify_resend", skip_all)]
pub async fn resend(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    JsonBody(req): JsonBody<ResendRequest>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    email::resend(&state, &req.email, request_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Message {
            message: "If this address belongs to an unverified account, a new code was sent".into(),
        }),
    ))
}
