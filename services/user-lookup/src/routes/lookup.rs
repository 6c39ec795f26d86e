//! The three ways to look a user up.

use axum::{
    Extension,
    extract::{Query, RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use hub_soap::{Envelope, InVersion, SoapRequest, addressing, wsdl};

use crate::{error::Error, lookup, state::AppState, store};

type Params = Query<Vec<(String, String)>>;

/// The first `username` value, as Go's `Query().Get` (empty counts as missing).
fn username(params: &[(String, String)]) -> Option<&str> {
    params
        .iter()
        .find(|(k, _)| k == "username")
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The user's `(id, username)`; PostgreSQL text cannot hold NUL, so such a name finds
/// nobody.
async fn find(state: &AppState, name: &str) -> Result<(String, String), Error> {
    if name.contains('\0') {
        return Err(Error::NotFound);
    }
    let (id, username) = store::find_by_username(&state.pool, name)
        .await?
        .ok_or(Error::NotFound)?;
    Ok((id.to_string(), username))
}

/// The user named by the GET's `username`.
async fn find_for_get(
    state: &AppState,
    params: &[(String, String)],
) -> Result<(String, String), Error> {
    find(state, username(params).ok_or(Error::MissingUsername)?).await
}

fn xml(content_type: &'static str, body: String) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `GET /user/soap?username=`: the original's envelope, byte for byte; `?wsdl` serves
/// the contract. Missing username → 400 Fault, unknown user → 404 Fault.
pub async fn legacy_get(
    State(state): State<AppState>,
    Extension(address): Extension<wsdl::Address>,
    RawQuery(raw): RawQuery,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, InVersion<Error>> {
    if wsdl::is_wsdl_query(raw.as_deref()) {
        return Ok(address.serve(super::WSDL, &headers));
    }
    let (id, username) = find_for_get(&state, &params)
        .await
        .map_err(InVersion::no_envelope)?;
    // The original's exact Content-Type.
    Ok(xml("text/xml", lookup::legacy_envelope(&id, &username)))
}

/// `GET /user/lookup?username=`: the WSDL's HTTP GET binding (bare element).
pub async fn http_get(
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Response, InVersion<Error>> {
    let (id, username) = find_for_get(&state, &params)
        .await
        .map_err(InVersion::no_envelope)?;
    Ok(xml(
        "text/xml; charset=utf-8",
        lookup::bare_reply(&id, &username),
    ))
}

/// `POST /user/soap`: the `getUserByUsername` operation, SOAP 1.1 or 1.2. The envelope's
/// credentials (a Bearer token among them: verified and not revoked) were checked by its
/// extractor. Errors answer in the envelope's version. A request with WS-Addressing must
/// name the operation's `Action`, and its answer carries the reply's
/// (`hub_soap::addressing`); any other answer is unchanged.
#[tracing::instrument(name = "lookup", skip_all)]
pub async fn soap(State(state): State<AppState>, Envelope(request): Envelope) -> Response {
    let v = request.version;
    let wsa = request.addressing.as_ref();
    if request.body.is(lookup::WEB_NS, "getUserByUsername")
        && let Some(refusal) = addressing::refuse_action(wsa, lookup::ACTION).await
    {
        return refusal;
    }
    let result = operation(&state, &request)
        .await
        .map(|(id, username)| v.reply(StatusCode::OK, lookup::soap_reply(v, &id, &username)))
        .map_err(InVersion::of(v));
    addressing::answer(wsa, result, lookup::REPLY_ACTION, Error::wsa_action).await
}

/// `getUserByUsername`: the user's `(id, username)`.
async fn operation(state: &AppState, request: &SoapRequest) -> Result<(String, String), Error> {
    if !request.body.is(lookup::WEB_NS, "getUserByUsername") {
        return Err(Error::UnknownOperation(request.body.qname()));
    }
    let names: Vec<_> = request
        .body
        .children_named(lookup::WEB_NS, "username")
        .collect();
    let name = match names.as_slice() {
        [one] if !one.text.trim().is_empty() => one.text.trim(),
        [_, _, ..] => return Err(Error::RepeatedUsername),
        _ => return Err(Error::MissingUsername),
    };
    find(state, name).await
}
