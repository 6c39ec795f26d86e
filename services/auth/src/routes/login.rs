//! `POST /login`.

use std::net::SocketAddr;

use axum::{
    Json,
    body::Bytes,
    extract::{ConnectInfo, State},
    http::{HeaderMap, header},
    response::IntoResponse,
};
use hub_runtime::http::{Failure, RequestId};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::{
    error::{ApiError, ApiResult},
    login::{ClientAddr, Credentials, Issued, LoginError},
    state::AppState,
};

/// `POST /login` body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: the handler parses the body itself, for precise errors
pub struct LoginRequest {
    /// Username or email.
    username: String,
    /// The password.
    password: String,
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
    /// both read a JSON object ([`json_object`]) and store tokens in the database.
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
        (status = 429, description = "Too many failed attempts; see Retry-After", body = super::Message),
        IssueFailures,
    )
)]
#[tracing::instrument(name = "login", skip_all)]
pub async fn login(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let creds = credentials(&headers, &body)?;
    let from = ClientAddr(state.throttle.proxies.client_ip(&headers, peer));
    let issued = crate::login::login(&state, from, creds, request_id).await?;
    Ok(TokenResponse::reply(issued))
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Throttled(secs) => Self::TooManyAttempts(secs),
            LoginError::InvalidCredentials => Self::InvalidCredentials,
            LoginError::Db(e) => e.into(),
            LoginError::Outbox(e) => e.into(),
            LoginError::Hashing(e) => e.into(),
            LoginError::Token(e) => Failure::Internal(e).into(),
            // Only a runtime shutting down cancels the write: a retry elsewhere will do.
            LoginError::Interrupted(e) => Failure::Unavailable(e.into()).into(),
        }
    }
}

/// Reads `{"username", "password"}`, with a clear 4xx for every way it can be wrong.
fn credentials(headers: &HeaderMap, body: &[u8]) -> ApiResult<Credentials> {
    let mut obj = json_object(headers, body, "username and password")?;
    let login = string_field(&mut obj, "username")?;
    let password = SecretString::from(string_field(&mut obj, "password")?);
    Ok(Credentials { login, password })
}

/// A request body that must be a JSON object with the fields `fields` names (for the
/// error text): 415 unless declared as JSON (Flask's `is_json`: the original refused any
/// other body), 400 unless an object.
pub(super) fn json_object(
    headers: &HeaderMap,
    body: &[u8],
    fields: &str,
) -> ApiResult<Map<String, Value>> {
    if !hub_runtime::http::declares_json(headers) {
        return Err(ApiError::NotJson);
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::BadRequest("Malformed JSON body".into()))?;
    let Value::Object(obj) = value else {
        return Err(ApiError::BadRequest(format!(
            "Request body must be a JSON object with {fields}"
        )));
    };
    Ok(obj)
}

/// The string field `name` of `obj` (taken out of it): 400 if missing, null or another type.
pub(super) fn string_field(obj: &mut Map<String, Value>, name: &str) -> ApiResult<String> {
    match obj.remove(name) {
        None | Some(Value::Null) => Err(ApiError::BadRequest(format!("Missing field: {name}"))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::BadRequest(format!(
            "Field {name} must be a string"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, header};

    use super::*;

    fn json_headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        h
    }

    fn err(headers: &HeaderMap, body: &str) -> String {
        credentials(headers, body.as_bytes())
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
