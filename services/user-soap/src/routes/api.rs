//! `POST /api/users`: the registration for REST front-ends, JSON in and out. The same
//! use case as the SOAP operation ([`registration::register`]): the same validation,
//! per-address limit, transaction and `UserRegistered` / `UserRegistrationFailed`
//! events; only the translation differs.

use std::net::SocketAddr;

use axum::{
    Json,
    body::Bytes,
    extract::{ConnectInfo, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use hub_runtime::http::{Cause, RequestId, declares_json, json_error};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::{
    registration::{self, Field, Invalid, RegisterError, Registration},
    state::AppState,
};

/// The body key of every error, as the REST services that answer `{"error"}` use.
pub(crate) const ERROR_KEY: &str = "error";

/// `POST /api/users` body: every field a string, all required.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only: `read` parses the body by field name, for precise errors
pub struct NewUserRequest {
    /// At most 80 characters, no `@`, no invisible or bidirectional control characters;
    /// unique under Unicode NFKC and case folding.
    username: String,
    /// At most 1024 characters; stored hashed, never returned.
    password: String,
    /// At most 100 characters.
    first_name: String,
    /// At most 100 characters.
    last_name: String,
    /// National id, at most 20 characters; unique.
    dni: String,
    /// At most 120 characters; unique, case-insensitively.
    email: String,
    /// At most 100 characters.
    city: String,
}

/// `201` answer.
#[derive(Serialize, ToSchema)]
pub struct Created {
    /// The new user's id (UUID).
    id: String,
    /// `User registered successfully`.
    message: &'static str,
}

/// An error answer: what went wrong and, for input and duplicates, which field.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// A readable text, e.g. `email is already registered`.
    error: String,
    /// The field at fault (`username`, `dni`, `email`, ...), when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

/// Everything `POST /api/users` answers besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 415: the body is not declared as JSON.
    #[error("Content-Type must be application/json")]
    NotJson,
    /// 400: the body is not a JSON object.
    #[error("{0}")]
    Malformed(&'static str),
    /// 400: a field is missing, not a string or invalid.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// 409 for a taken username, dni or email; 429, 503 or 500 otherwise.
    #[error(transparent)]
    Register(#[from] RegisterError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let answer = |status, error: String, field| {
            (status, Json(ErrorBody { error, field })).into_response()
        };
        match self {
            Self::NotJson => answer(StatusCode::UNSUPPORTED_MEDIA_TYPE, self.to_string(), None),
            Self::Malformed(_) => answer(StatusCode::BAD_REQUEST, self.to_string(), None),
            Self::Invalid(invalid) => answer(
                StatusCode::BAD_REQUEST,
                invalid.to_string(),
                Some(invalid.field.name()),
            ),
            Self::Register(e @ RegisterError::Duplicate(taken)) => {
                answer(StatusCode::CONFLICT, e.to_string(), Some(taken.field()))
            }
            Self::Register(RegisterError::Throttled(secs)) => {
                let mut resp = json_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    ERROR_KEY,
                    "Too many registrations from this address; try again later",
                    Cause::Client,
                );
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                resp
            }
            Self::Register(e) => {
                let failure = e.failure();
                json_error(
                    failure.status(),
                    ERROR_KEY,
                    failure.text("Service temporarily unavailable", "Internal server error"),
                    failure.cause(),
                )
            }
        }
    }
}

/// Registers a user from a JSON object: 201 `{"id","message"}`; a taken username, dni
/// or email is 409 naming the field (and records `UserRegistrationFailed`, as over
/// SOAP); bad input is 400 naming the field.
#[utoipa::path(
    post,
    path = "/api/users",
    request_body(content = NewUserRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = Created),
        (status = 400, description = "Malformed body, or a field missing, not a string or invalid; `field` names it", body = ErrorBody),
        (status = 409, description = "The username, dni or email is taken; `field` names which", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body not declared as JSON", body = ErrorBody),
        (status = 429, description = "Too many registrations from this address; see Retry-After", body = ErrorBody),
        (status = 500, description = "Unexpected failure", body = ErrorBody),
        (status = 503, description = "Database unavailable or saturated; retry later", body = ErrorBody),
    )
)]
#[tracing::instrument(name = "register", skip_all)]
pub async fn create_user(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let input = read(&headers, &body)?;
    let from = state.proxies.client_ip(&headers, peer);
    let registered = registration::register(&state, &request_id, from, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            id: registered.id.to_string(),
            message: "User registered successfully",
        }),
    ))
}

/// Reads the registration from a JSON object, field by name, with the SOAP operation's
/// rules and messages.
fn read(headers: &HeaderMap, body: &[u8]) -> Result<Registration, ApiError> {
    if !declares_json(headers) {
        return Err(ApiError::NotJson);
    }
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        return Err(ApiError::Malformed(
            "Request body must be a JSON object with the user's fields",
        ));
    };
    Ok(Registration::from_fields(|field| field_text(&obj, field))?)
}

fn field_text(obj: &Map<String, Value>, field: Field) -> Result<&str, Invalid> {
    match obj.get(field.name()) {
        None | Some(Value::Null) => Err(Invalid::new(field, "is required")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Invalid::new(field, "must be a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h
    }

    fn refused(headers: &HeaderMap, body: &str) -> String {
        match read(headers, body.as_bytes()) {
            Ok(_) => panic!("accepted {body}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn bad_bodies_are_refused_naming_the_field_in_field_order() {
        assert_eq!(
            refused(&HeaderMap::new(), "{}"),
            "Content-Type must be application/json"
        );
        assert_eq!(
            refused(&json(), "[1]"),
            "Request body must be a JSON object with the user's fields"
        );
        assert_eq!(refused(&json(), "{"), refused(&json(), "[1]"));
        assert_eq!(refused(&json(), "{}"), "Invalid username: is required");
        assert_eq!(
            refused(&json(), r#"{"username":"ana","password":7}"#),
            "Invalid password: must be a string"
        );
        let all = r#"{"username":"ana","password":"pw","first_name":"A","last_name":"B","dni":"1","email":"not-an-email","city":"C"}"#;
        assert_eq!(
            refused(&json(), all),
            "Invalid email: is not an email address"
        );
        let ok = all.replace("not-an-email", "ana@example.com");
        let r = read(&json(), ok.as_bytes()).unwrap();
        assert_eq!((r.username.as_str(), r.dni.as_str()), ("ana", "1"));
    }
}
