//! `POST /register`: the envelope in, the use case, the original's reply out.

use std::net::IpAddr;

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use hub_runtime::http::{RequestId, client_ip::ClientIp};
use hub_soap::{Envelope, InVersion, SoapRequest, SoapVersion, addressing};

use super::message;
use crate::{
    config::DuplicateReply,
    error::Error,
    registration::{self, RegisterError},
    state::AppState,
};

/// Registers the user the envelope describes (see [`registration::register`]): 200
/// with the original's reply holding the new id; a duplicate, invalid input or an
/// unknown operation is an [`Error`], answered in the envelope's version. A request
/// with WS-Addressing must name the registration's `Action`, and its answer carries the
/// reply's (`hub_soap::addressing`); any other answer is unchanged.
#[tracing::instrument(name = "register", skip_all)]
pub async fn register(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    ClientIp(from): ClientIp,
    headers: HeaderMap,
    Envelope(request): Envelope,
) -> Response {
    let version = request.version;
    let wsa = request.addressing.clone();
    if message::is_registration(&request.body)
        && let Some(refusal) = addressing::refuse_action(wsa.as_ref(), message::ACTION).await
    {
        return refusal;
    }
    let result = reply(&state, &request_id, from, &headers, request)
        .await
        .map_err(InVersion::of(version));
    addressing::answer(
        wsa.as_ref(),
        result,
        message::REPLY_ACTION,
        Error::wsa_action,
    )
    .await
}

/// The operation, from the envelope to the reply.
async fn reply(
    state: &AppState,
    request_id: &str,
    from: IpAddr,
    headers: &HeaderMap,
    request: SoapRequest,
) -> Result<Response, Error> {
    if !message::is_registration(&request.body) {
        return Err(Error::UnknownOperation(request.body.qname()));
    }
    let input = message::read(&request.body)?;
    let version = request.version;
    let registered = match registration::register(state, request_id, from, input).await {
        Ok(registered) => registered,
        Err(RegisterError::Duplicate(taken))
            if duplicate_as_fault(state.duplicate_reply, version, headers) =>
        {
            return Err(Error::Taken(taken));
        }
        // The limit, to a toolkit, as a fault its fault API reads (same rule).
        Err(RegisterError::Throttled(secs))
            if duplicate_as_fault(state.duplicate_reply, version, headers) =>
        {
            return Err(Error::RateLimited(secs));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(version.reply(
        StatusCode::OK,
        message::success_reply(version, &registered.id.to_string()),
    ))
}

/// Whether a duplicate is answered with a `RegistrationFault` rather than the
/// original's 409 reply: every SOAP toolkit sends `SOAPAction` in SOAP 1.1 (any value,
/// `""` included) and decodes only faults as errors (six of thirteen stacks reported the
/// 409 reply as a successful registration); the legacy browser front-end sends no
/// `SOAPAction` and reads the 409 body. The registration limit follows the same rule: a
/// `RateLimitFault` (500/400 with `Retry-After`) to a toolkit, the 429 to the front-end.
fn duplicate_as_fault(mode: DuplicateReply, version: SoapVersion, headers: &HeaderMap) -> bool {
    match mode {
        DuplicateReply::Legacy => false,
        DuplicateReply::Fault => true,
        DuplicateReply::Auto => version == SoapVersion::V12 || headers.contains_key("soapaction"),
    }
}
