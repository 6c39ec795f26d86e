//! `POST /login`.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, header},
    response::IntoResponse,
};
use hub_runtime::http::{
    Failure, RequestId,
    client_ip::ClientIp,
    json_body::{self, FieldError, FromJsonObject, JsonBody, JsonObject},
};
use secrecy::{ExposeSecret, SecretString};

use crate::{
    error::{ApiError, ApiResult},
    login::{Client, ClientAddr, Credentials, Issued, LoginError},
    state::AppState,
};

/// `POST /login` body.
#[derive(utoipa::ToSchema)]
pub struct LoginRequest {
    /// Username or email.
    username: String,
    /// The password.
    #[schema(value_type = String)]
    password: SecretString,
}

impl From<LoginRequest> for Credentials {
    fn from(req: LoginRequest) -> Self {
        Self {
            login: req.username,
            password: req.password,
        }
    }
}

impl FromJsonObject for LoginRequest {
    type Error = ApiError;
    const FIELDS: &'static str = "username and password";

    fn from_object(object: JsonObject) -> ApiResult<Self> {
        Ok(Self {
            username: string_field(&object, "username")?,
            password: string_field(&object, "password")?.into(),
        })
    }
}

/// `POST /login` and `POST /token/refresh` answer (sent with `Cache-Control: no-store`).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// The access token: a JWT (HS256, or EdDSA with a `kid` header) with `user_id`,
    /// `username`, `exp`, `iat` and `sid` (the login session), valid `JWT_TTL_SECS`.
    token: String,
    /// Opaque, single use: `POST /token/refresh` exchanges it for new tokens. Valid until
    /// used, revoked, or `REFRESH_TOKEN_TTL_SECS` after the login.
    refresh_token: String,
}

impl TokenResponse {
    /// The answer carrying `issued`, never to be cached.
    pub(super) fn reply(issued: Issued) -> impl IntoResponse {
        (
            [(header::CACHE_CONTROL, "no-store")],
            Json(Self {
                token: issued.token,
                refresh_token: issued.refresh_token.expose_secret().to_owned(),
            }),
        )
    }
}

hub_runtime::error_responses! {
    /// What `POST /login` and `POST /token/refresh` may answer besides their own rows:
    /// both read a JSON object (auth's `JsonBodyError` in `error.rs`) and store tokens in
    /// the database.
    pub IssueFailures(super::Message) {
        400 => "Malformed body or missing field",
        415 => "Body not declared as JSON",
        503 => "Database unavailable",
    }
}

/// Logs a user in by username or email; answers `{"token", "refresh_token"}` or 401.
///
/// Every attempt records an event in the outbox (`UserLoggedIn` in the same
/// transaction as a legacy-hash upgrade and the new token family, or
/// `UserLoginFailed`), so the broker's state never affects the answer or its latency.
#[utoipa::path(
    post,
    path = "/login",
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "Invalid credentials", body = super::Message),
        (status = 403, description = "`Account is deactivated` (the right password, but an administrator deactivated the account) or `Email not verified` (only with `REQUIRE_VERIFIED_EMAIL` on)", body = super::Message),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = super::Message),
        IssueFailures,
    )
)]
#[tracing::instrument(name = "login", skip_all)]
pub async fn login(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    ClientIp(from): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    let client = Client {
        addr: ClientAddr(from),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let issued = crate::login::login_from(&state, client, req.into(), request_id).await?;
    Ok(TokenResponse::reply(issued))
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Throttled(secs) => Self::TooManyAttempts(secs),
            LoginError::InvalidCredentials => Self::InvalidCredentials,
            LoginError::EmailNotVerified => Self::EmailNotVerified,
            LoginError::Deactivated => Self::AccountDeactivated,
            LoginError::Db(e) => e.into(),
            LoginError::Outbox(e) => e.into(),
            LoginError::Hashing(e) => e.into(),
            LoginError::Token(e) => Failure::Internal(e).into(),
            // Only a runtime shutting down cancels the write: a retry elsewhere will do.
            LoginError::Interrupted(e) => Failure::Unavailable(e.into()).into(),
        }
    }
}

/// The string field `name` of `object`: 400 if missing, null or another type.
pub(super) fn string_field(object: &JsonObject, name: &str) -> ApiResult<String> {
    match json_body::string_field(object, name) {
        Ok(text) => Ok(text.to_owned()),
        Err(FieldError::Missing) => Err(ApiError::BadRequest(format!("Missing field: {name}"))),
        Err(FieldError::NotAString) => Err(ApiError::BadRequest(format!(
            "Field {name} must be a string"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::*;

    fn json_headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        h
    }

    fn credentials(headers: &HeaderMap, body: &[u8]) -> ApiResult<LoginRequest> {
        json_body::read(hub_runtime::http::declares_json(headers), body)
    }

    fn err(headers: &HeaderMap, body: &str) -> String {
        credentials(headers, body.as_bytes())
            .map(drop)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn every_malformed_body_gets_a_specific_message() {
        let h = json_headers("application/json");
        assert_eq!(err(&h, "{"), "Malformed JSON body");
        assert_eq!(err(&h, ""), "Malformed JSON body");
        assert_eq!(
            err(&h, "null"),
            "Request body must be a JSON object with username and password"
        );
        assert_eq!(
            err(&h, "[]"),
            "Request body must be a JSON object with username and password"
        );
        assert_eq!(err(&h, r#"{"password":"x"}"#), "Missing field: username");
        assert_eq!(
            err(&h, r#"{"username":null,"password":"x"}"#),
            "Missing field: username"
        );
        assert_eq!(err(&h, r#"{"username":"u"}"#), "Missing field: password");
        assert_eq!(
            err(&h, r#"{"username":1,"password":"x"}"#),
            "Field username must be a string"
        );
        assert_eq!(
            err(&h, r#"{"username":"u","password":["x"]}"#),
            "Field password must be a string"
        );
    }

    #[test]
    fn content_type_must_be_json() {
        assert_eq!(
            err(&HeaderMap::new(), "{}"),
            "Content-Type must be application/json"
        );
        assert_eq!(
            err(&json_headers("text/plain"), "{}"),
            "Content-Type must be application/json"
        );
        let ok = r#"{"username":"u","password":"p"}"#.as_bytes();
        assert!(credentials(&json_headers("application/json; charset=utf-8"), ok).is_ok());
        assert!(credentials(&json_headers("Application/JSON"), ok).is_ok());
        assert!(credentials(&json_headers("application/vnd.api+json"), ok).is_ok());
    }
}
