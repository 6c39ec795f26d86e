//! The one error type of the user-lookup service and its rendering: a SOAP Fault in
//! the version of the request's envelope (learned once by `hub_soap::Envelope`; no
//! handler passes it along), SOAP 1.1 for the GETs, which carry none.
//!
//! The caller's mistakes are Client (1.2: Sender) faults with the WSDL's `LookupFault`
//! detail; database trouble is classified by [`ServerError`] (503 when PostgreSQL is
//! unavailable, else 500), which logs the cause once and never sends it.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use hub_identity::jwt::TokenError;
use hub_soap::{Fault, ServerError, wsse::Refusal, xml::escape};

use crate::lookup::WEB_NS;

/// Everything a user-lookup handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No username given (or an empty one).
    #[error("Username is required")]
    MissingUsername,
    /// The SOAP operation holds more than one `username`.
    #[error("username appears more than once")]
    RepeatedUsername,
    /// No such user (the original's 500 was a bug).
    #[error("User not found")]
    NotFound,
    /// The Body's element is not `getUserByUsername` (its `{namespace}local` name).
    #[error("Unknown operation {0}")]
    UnknownOperation(String),
    /// A Bearer token the WS-Security guard accepted is revoked, or its user is gone
    /// (`routes::bearer`): the guard's answer to an invalid token.
    #[error("revoked bearer token")]
    RevokedBearer,
    /// auth's public keys could not be had to read a Bearer token again.
    #[error("token verification keys unavailable")]
    KeysUnavailable,
    /// The database failed.
    #[error("database error")]
    Db(#[from] sqlx::Error),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        // Without an envelope (the GET bindings) there is no SOAP status rule to follow:
        // the HTTP status says what went wrong, 400 or 404.
        let get = hub_soap::request::envelope_version().is_none();
        let get_status = match (&self, get) {
            (Self::MissingUsername, true) => Some(StatusCode::BAD_REQUEST),
            (Self::NotFound, true) => Some(StatusCode::NOT_FOUND),
            (Self::RevokedBearer, true) => Some(StatusCode::UNAUTHORIZED),
            _ => None,
        };
        // As the guard answers a GET's invalid token: 401 with the challenge.
        let challenge = matches!(self, Self::RevokedBearer) && get;
        let fault = match self {
            Self::UnknownOperation(_) => Fault::client(self.to_string()),
            Self::RevokedBearer => Refusal::BadBearer.fault(),
            Self::KeysUnavailable => {
                ServerError::Unavailable(TokenError::Unavailable.into()).into()
            }
            Self::Db(e) => ServerError::from(e).into(),
            Self::MissingUsername | Self::RepeatedUsername | Self::NotFound => {
                lookup_fault(&self.to_string())
            }
        };
        let fault = match get_status {
            Some(status) => fault.with_status(status),
            None => fault,
        };
        let mut response = fault.in_request_version().into_response();
        if challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            );
        }
        response
    }
}

/// A Client fault with the WSDL's `LookupFault` detail.
fn lookup_fault(message: &str) -> Fault {
    let detail = format!(
        "<web:LookupFault xmlns:web=\"{WEB_NS}\"><web:message>{}</web:message></web:LookupFault>",
        escape(message)
    );
    Fault::client(message).with_detail(detail)
}
