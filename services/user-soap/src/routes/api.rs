//! `POST /api/users`: the registration for REST front-ends, JSON in and out. The same
//! use case as the SOAP operation ([`registration::register`]): the same validation,
//! per-address limit, transaction and `UserRegistered` / `UserRegistrationFailed`
//! events; only the translation differs. And the same door policy: with `WSSE_MODE` on,
//! the SOAP operation's credentials (`WSSE_USERS`) as HTTP Basic ([`Admitted`]).

use std::net::SocketAddr;

use axum::{
    Json,
    extract::{ConnectInfo, FromRequestParts, State},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use hub_runtime::http::{
    Cause, RequestId,
    client_ip::ClientIp,
    json_body::{
        self, FieldError, FromJsonObject, JsonBody, JsonBodyError, JsonObject, NotAnObject,
    },
    json_error,
};
use hub_soap::wsse::Refusal;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    registration::{self, Field, Invalid, RegisterError, Registration},
    state::AppState,
};

/// The body key of every error, as the REST services that answer `{"error"}` use.
pub(crate) const ERROR_KEY: &str = "error";

/// The challenge of a 401: HTTP Basic, UTF-8 (RFC 7617).
const CHALLENGE: &str = r#"Basic realm="user-soap", charset="UTF-8""#;

/// A request the registration policy admits: with `WSSE_MODE` off, any; with it on,
/// the SOAP door's rules for a door that carries no envelope
/// ([`hub_soap::wsse::Guard::check_basic`]): HTTP Basic credentials of `WSSE_USERS`,
/// required in `required` mode and checked whenever sent, over TLS only unless
/// `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP` allows plain HTTP. Checked before the body is
/// read, so a refused request costs nothing and stores nothing.
pub struct Admitted;

impl FromRequestParts<AppState> for Admitted {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(guard) = &state.wsse else {
            return Ok(Self);
        };
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| *peer);
        guard
            .check_basic(&parts.headers, peer)
            .map(|()| Self)
            .map_err(ApiError::Refused)
    }
}

/// `POST /api/users` body: every field a string, all required.
#[derive(ToSchema)]
pub struct NewUserRequest {
    /// At most 80 characters, no `@`, no invisible or bidirectional control characters;
    /// unique under Unicode NFKC and case folding, and no look-alike (UTS #39) of another.
    username: String,
    /// At most 1024 characters; stored hashed, never returned.
    #[schema(value_type = String)]
    password: SecretString,
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

impl NewUserRequest {
    /// The registration asked for, checked with the SOAP operation's rules.
    fn registration(&self) -> Result<Registration, Invalid> {
        Registration::from_fields(|field| Ok(self.text(field)))
    }

    fn text(&self, field: Field) -> &str {
        match field {
            Field::Username => &self.username,
            Field::Password => self.password.expose_secret(),
            Field::FirstName => &self.first_name,
            Field::LastName => &self.last_name,
            Field::Dni => &self.dni,
            Field::Email => &self.email,
            Field::City => &self.city,
        }
    }
}

impl FromJsonObject for NewUserRequest {
    type Error = ApiError;
    const FIELDS: &'static str = "the user's fields";

    /// Field by field, in [`Field::ALL`]'s order. A field missing or not a string is
    /// reported as over SOAP: after any invalid value of an earlier field.
    fn from_object(object: JsonObject) -> Result<Self, ApiError> {
        let read = || -> Result<Self, Invalid> {
            Ok(Self {
                username: field_text(&object, Field::Username)?.to_owned(),
                password: field_text(&object, Field::Password)?.to_owned().into(),
                first_name: field_text(&object, Field::FirstName)?.to_owned(),
                last_name: field_text(&object, Field::LastName)?.to_owned(),
                dni: field_text(&object, Field::Dni)?.to_owned(),
                email: field_text(&object, Field::Email)?.to_owned(),
                city: field_text(&object, Field::City)?.to_owned(),
            })
        };
        read().map_err(|missing| {
            let first = Registration::from_fields(|field| field_text(&object, field)).err();
            first.unwrap_or(missing).into()
        })
    }
}

/// 415 unless declared as JSON; any other body that is not a JSON object is a 400.
impl JsonBodyError for ApiError {
    fn not_an_object(why: NotAnObject, fields: &str) -> Option<Self> {
        Some(match why {
            NotAnObject::NotJson => Self::NotJson,
            _ => Self::Malformed(format!("Request body must be a JSON object with {fields}")),
        })
    }
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
    Malformed(String),
    /// 400: a field is missing, not a string or invalid.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// 409 for a taken username, dni or email; 429, 503 or 500 otherwise.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// 401 (with a Basic challenge) for credentials missing or wrong, 403 for a
    /// password sent in the clear over plain HTTP: see [`Admitted`].
    #[error("{}", refusal_text(.0))]
    Refused(Refusal),
}

/// What a refused request is told: which credentials to send, or that they were wrong
/// (never which part), or that they need HTTPS.
fn refusal_text(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::Missing(_) => {
            "Authentication required: send HTTP Basic credentials (the WS-Security users)"
        }
        Refusal::TextOverHttp => "HTTP Basic credentials are accepted only over HTTPS",
        Refusal::Invalid(_)
        | Refusal::BadPassword
        | Refusal::Replayed
        | Refusal::BadBearer
        | Refusal::Expired(_) => "Invalid credentials",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let answer = |status, error: String, field| {
            (status, Json(ErrorBody { error, field })).into_response()
        };
        match self {
            Self::NotJson => answer(StatusCode::UNSUPPORTED_MEDIA_TYPE, self.to_string(), None),
            Self::Malformed(_) => answer(StatusCode::BAD_REQUEST, self.to_string(), None),
            Self::Invalid(invalid) | Self::Register(RegisterError::Invalid(invalid)) => answer(
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
            Self::Refused(Refusal::TextOverHttp) => {
                answer(StatusCode::FORBIDDEN, self.to_string(), None)
            }
            Self::Refused(_) => {
                let mut resp = answer(StatusCode::UNAUTHORIZED, self.to_string(), None);
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(CHALLENGE),
                );
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
/// SOAP); bad input is 400 naming the field. With `WSSE_MODE` on, the SOAP door's
/// credentials as HTTP Basic (see [`Admitted`]): 401 or 403 before the body is read.
#[utoipa::path(
    post,
    path = "/api/users",
    request_body(content = NewUserRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = Created),
        (status = 400, description = "Malformed body, or a field missing, not a string or invalid; `field` names it", body = ErrorBody),
        (status = 401, description = "With `WSSE_MODE=required`: no HTTP Basic credentials; with it on: wrong ones (`WWW-Authenticate: Basic`)", body = ErrorBody),
        (status = 403, description = "With `WSSE_MODE` on: HTTP Basic credentials over plain HTTP (HTTPS needed unless `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP`)", body = ErrorBody),
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
    ClientIp(from): ClientIp,
    _admitted: Admitted,
    JsonBody(req): JsonBody<NewUserRequest>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let input = req.registration()?;
    let registered = registration::register(&state, &request_id, from, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            id: registered.id.to_string(),
            message: "User registered successfully",
        }),
    ))
}

/// The text of `field` in `object`, with the SOAP operation's messages.
fn field_text(object: &JsonObject, field: Field) -> Result<&str, Invalid> {
    json_body::string_field(object, field.name()).map_err(|e| match e {
        FieldError::Missing => Invalid::new(field, "is required"),
        FieldError::NotAString => Invalid::new(field, "must be a string"),
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;

    fn read(headers: &HeaderMap, body: &[u8]) -> Result<Registration, ApiError> {
        let declared = hub_runtime::http::declares_json(headers);
        Ok(json_body::read::<NewUserRequest>(declared, body)?.registration()?)
    }

    fn json() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h
    }

    fn refused(headers: &HeaderMap, body: &str) -> String {
        read(headers, body.as_bytes())
            .map(drop)
            .unwrap_err()
            .to_string()
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
        // An earlier field's invalid value comes before a later one's absence, as over SOAP.
        assert_eq!(
            refused(&json(), r#"{"username":" ","password":7}"#),
            "Invalid username: must not be empty"
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
