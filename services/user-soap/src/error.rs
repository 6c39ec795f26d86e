//! The one error type of the user-soap service and its rendering: a SOAP Fault, or
//! the original's 409 envelope for a duplicate, in the version of the request's
//! envelope, which the handler names (`hub_soap::InVersion`; no `IntoResponse` here).
//!
//! Invalid input is a Client (1.2: Sender) fault naming the field; failures on our
//! side are classified by [`ServerError`] (503 when a backing server is unavailable,
//! else 500), which logs the cause once and never sends it.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse as _, Response},
};
use hub_soap::{Fault, ServerError, SoapError, SoapVersion, xml::escape};

use crate::{
    registration::{Invalid, RegisterError},
    routes::message::{self, SERVICE_NS},
    store::users::Taken,
};

/// Everything a user-soap handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Body's element is no registration (its `{namespace}local` name).
    #[error("Unknown operation {0}")]
    UnknownOperation(String),
    /// A field is missing, repeated or invalid.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The registration failed: a duplicate (answered as the original did), or trouble
    /// on our side.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// A taken username, dni or email, answered to a SOAP toolkit as a
    /// `RegistrationFault` (see `config::DuplicateReply`).
    #[error("{} is already registered", .0.field())]
    Taken(Taken),
    /// Over the registration limit, answered to a SOAP toolkit as a `RateLimitFault`
    /// with the seconds to wait (the legacy front-end gets `Register(Throttled)`'s 429).
    #[error("Too many registrations from this address; retry after {0} s")]
    RateLimited(u64),
}

impl Error {
    /// The WS-Addressing `Action` of this answer, when the WSDL declares one: its faults'
    /// and, for the legacy 409 (no fault), the operation's output; else the generic
    /// fault action (`hub_soap::addressing::answer`).
    pub fn wsa_action(&self) -> Option<&'static str> {
        match self {
            Self::Invalid(_) | Self::Taken(_) => Some(message::REGISTRATION_FAULT_ACTION),
            Self::RateLimited(_) => Some(message::RATE_LIMIT_FAULT_ACTION),
            Self::Register(RegisterError::Duplicate(_)) => Some(message::REPLY_ACTION),
            _ => None,
        }
    }
}

impl SoapError for Error {
    fn answer(self, envelope: Option<SoapVersion>) -> Response {
        let version = envelope.unwrap_or_default();
        let fault = match self {
            Self::UnknownOperation(_) => Fault::client(self.to_string()),
            Self::Invalid(invalid) | Self::Register(RegisterError::Invalid(invalid)) => {
                registration_fault(invalid.field.name(), invalid.to_string(), &invalid.message)
            }
            Self::Taken(taken) => {
                let message = self.to_string();
                registration_fault(taken.field(), message.clone(), &message)
            }
            Self::RateLimited(secs) => {
                let mut resp = rate_limit_fault(secs, self.to_string())
                    .with_version(version)
                    .into_response();
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                return resp;
            }
            Self::Register(RegisterError::Throttled(secs)) => {
                let mut resp = Fault::client(format!(
                    "Too many registrations from this address; retry after {secs} s"
                ))
                .with_status(StatusCode::TOO_MANY_REQUESTS)
                .with_version(version)
                .into_response();
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                return resp;
            }
            Self::Register(RegisterError::Duplicate(_)) => {
                return version.reply(StatusCode::CONFLICT, message::duplicate_reply(version));
            }
            Self::Register(e) => server_error(e).into(),
        };
        fault.with_version(version).into_response()
    }
}

/// A Client fault `reason`, with the WSDL's `RegistrationFault` detail naming `field`.
fn registration_fault(field: &str, reason: String, message: &str) -> Fault {
    let detail = format!(
        "<us:RegistrationFault xmlns:us=\"{SERVICE_NS}\"><us:field>{}</us:field><us:message>{}</us:message></us:RegistrationFault>",
        escape(field),
        escape(message)
    );
    Fault::client(reason).with_detail(detail)
}

/// A Client fault `reason` with the WSDL's `RateLimitFault` detail: the seconds until
/// another registration from this address is accepted (also `Retry-After`).
fn rate_limit_fault(secs: u64, reason: String) -> Fault {
    let detail = format!(
        "<us:RateLimitFault xmlns:us=\"{SERVICE_NS}\"><us:retryAfterSeconds>{secs}</us:retryAfterSeconds><us:message>{}</us:message></us:RateLimitFault>",
        escape(&reason)
    );
    Fault::client(reason).with_detail(detail)
}

/// A failure on our side as a SOAP server error, classified once by
/// [`RegisterError::failure`].
fn server_error(e: RegisterError) -> ServerError {
    e.failure().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registration::Field;

    #[test]
    fn the_detail_is_the_wsdl_registration_fault() {
        let invalid = Invalid::new(Field::Email, "is <bad>");
        let f = registration_fault(invalid.field.name(), invalid.to_string(), &invalid.message);
        assert!(
            f.detail
                .unwrap()
                .contains("<us:field>email</us:field><us:message>is &lt;bad&gt;</us:message>")
        );
    }

    #[test]
    fn a_busy_hashing_pool_is_a_503_server_fault() {
        let f = Fault::from(server_error(hub_identity::pool::HashPoolError::Busy.into()));
        assert_eq!(
            (f.reason.as_str(), f.status()),
            (
                "Service temporarily unavailable",
                StatusCode::SERVICE_UNAVAILABLE
            )
        );
    }
}
