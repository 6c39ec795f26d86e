//! `POST /register`: the envelope in, the use case, the original's reply out.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use hub_runtime::http::RequestId;
use hub_soap::Envelope;

use super::message;
use crate::{error::Error, registration, state::AppState};

/// Registers the user the envelope describes (see [`registration::register`]): 200
/// with the original's reply holding the new id; a duplicate, invalid input or an
/// unknown operation is an [`Error`].
#[tracing::instrument(name = "register", skip_all)]
pub async fn register(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Envelope(request): Envelope,
) -> Result<Response, Error> {
    if !message::is_registration(&request.body) {
        return Err(Error::UnknownOperation(request.body.qname()));
    }
    let input = message::read(&request.body)?;
    let from = state.proxies.client_ip(&headers, peer);
    let registered = registration::register(&state, &request_id, from, input).await?;
    let version = request.version;
    Ok(version.reply(
        StatusCode::OK,
        message::success_reply(version, &registered.id.to_string()),
    ))
}
