//! The one error type of the user-lookup service and its rendering: a SOAP Fault in
//! the version of the request's envelope, which the handler names
//! (`hub_soap::InVersion`; no `IntoResponse` here), SOAP 1.1 for the GETs, which carry
//! none.
//!
//! The caller's mistakes are Client (1.2: Sender) faults with the WSDL's `LookupFault`
//! detail; database trouble is classified by [`ServerError`] (503 when PostgreSQL is
//! unavailable, else 500), which logs the cause once and never sends it.

use axum::{http::StatusCode, response::Response};
use hub_soap::{Fault, ServerError, SoapError, SoapVersion, xml::escape};

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
    /// The database failed.
    #[error("database error")]
    Db(#[from] sqlx::Error),
}

impl Error {
    /// The WS-Addressing `Action` of this fault when the WSDL declares it (`LookupFault`);
    /// else the generic fault action (`hub_soap::addressing::answer`).
    pub fn wsa_action(&self) -> Option<&'static str> {
        match self {
            Self::MissingUsername | Self::RepeatedUsername | Self::NotFound => {
                Some(crate::lookup::LOOKUP_FAULT_ACTION)
            }
            Self::UnknownOperation(_) | Self::Db(_) => None,
        }
    }
}

impl SoapError for Error {
    fn answer(self, envelope: Option<SoapVersion>) -> Response {
        // Without an envelope (the GET bindings) there is no SOAP status rule to follow:
        // the HTTP status says what went wrong, 400 or 404.
        let get = envelope.is_none();
        let get_status = match (&self, get) {
            (Self::MissingUsername, true) => Some(StatusCode::BAD_REQUEST),
            (Self::NotFound, true) => Some(StatusCode::NOT_FOUND),
            _ => None,
        };
        let fault = match self {
            Self::UnknownOperation(_) => Fault::client(self.to_string()),
            Self::Db(e) => ServerError::new(hub_db::is_unavailable(&e), e).into(),
            Self::MissingUsername | Self::RepeatedUsername | Self::NotFound => {
                lookup_fault(&self.to_string())
            }
        };
        let fault = match get_status {
            Some(status) => fault.with_status(status),
            None => fault,
        };
        fault.answer(envelope)
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
