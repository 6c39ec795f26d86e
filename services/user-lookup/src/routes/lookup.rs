//! The three ways to look a user up.

use axum::{
    body::Bytes,
    extract::{Query, RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use hub_runtime::http::Rendered;
use hub_soap::{Fault, SoapVersion, envelope, wsdl, xml::Limits};

use crate::{lookup, state::AppState, store};

type Params = Query<Vec<(String, String)>>;

/// The first `username` value, as Go's `Query().Get` (empty counts as missing).
fn username(params: &[(String, String)]) -> Option<&str> {
    params
        .iter()
        .find(|(k, _)| k == "username")
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Finds the user; PostgreSQL text cannot hold NUL, so such a name finds nobody.
async fn find(
    state: &AppState,
    name: &str,
    version: SoapVersion,
) -> Result<Option<(String, String)>, Fault> {
    if name.contains('\0') {
        return Ok(None);
    }
    match store::find_by_username(&state.pool, name).await {
        Ok(row) => Ok(row.map(|(id, username)| (id.to_string(), username))),
        Err(e) if hub_db::is_unavailable(&e) => {
            tracing::warn!(error = %e, "database unavailable");
            Err(Fault::server("Service temporarily unavailable")
                .with_version(version)
                .with_status(StatusCode::SERVICE_UNAVAILABLE))
        }
        Err(e) => {
            tracing::error!(error = %e, "database error");
            Err(Fault::server("Internal server error").with_version(version))
        }
    }
}

/// The user named by the GET's `username`: 400 Fault without one, 404 Fault when
/// nobody has it (the original answered 500).
async fn find_for_get(
    state: &AppState,
    params: &[(String, String)],
) -> Result<(String, String), Fault> {
    let v = SoapVersion::V11;
    let name = username(params)
        .ok_or_else(|| lookup::missing_username(v).with_status(StatusCode::BAD_REQUEST))?;
    find(state, name, v)
        .await?
        .ok_or_else(|| lookup::not_found(v).with_status(StatusCode::NOT_FOUND))
}

fn xml(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut resp = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    resp.extensions_mut().insert(Rendered);
    resp
}

/// `GET /user/soap?username=`: the original's envelope, byte for byte; `?wsdl` serves
/// the contract. Missing username → 400 Fault, unknown user → 404 Fault.
pub async fn legacy_get(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, Fault> {
    if wsdl::is_wsdl_query(raw.as_deref()) {
        let base = wsdl::public_base(
            state.public_base_url.as_deref(),
            &headers,
            &state.local_host,
        );
        return Ok(wsdl::response(super::WSDL, &base));
    }
    let (id, username) = find_for_get(&state, &params).await?;
    // The original's exact Content-Type.
    Ok(xml(
        StatusCode::OK,
        "text/xml",
        lookup::legacy_envelope(&id, &username),
    ))
}

/// `GET /user/lookup?username=`: the WSDL's HTTP GET binding (bare element).
pub async fn http_get(
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Response, Fault> {
    let (id, username) = find_for_get(&state, &params).await?;
    Ok(xml(
        StatusCode::OK,
        "text/xml; charset=utf-8",
        lookup::bare_reply(&id, &username),
    ))
}

/// `POST /user/soap`: the `getUserByUsername` operation, SOAP 1.1 or 1.2.
#[tracing::instrument(name = "lookup", skip_all)]
pub async fn soap(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Fault> {
    envelope::check_content_type(&headers)?;
    let request = envelope::parse(&body, &headers, &Limits::default())?;
    let v = request.version;
    if !request.body.is(lookup::WEB_NS, "getUserByUsername") {
        let name = format!(
            "{{{}}}{}",
            request.body.ns.as_deref().unwrap_or(""),
            request.body.local
        );
        return Err(Fault::client(format!("Unknown operation {name}")).with_version(v));
    }
    let names: Vec<_> = request
        .body
        .children_named(lookup::WEB_NS, "username")
        .collect();
    let name = match names.as_slice() {
        [one] if !one.text.trim().is_empty() => one.text.trim(),
        [_, _, ..] => return Err(lookup::lookup_fault(v, "username appears more than once")),
        _ => return Err(lookup::missing_username(v)),
    };
    let (id, username) = find(&state, name, v)
        .await?
        .ok_or_else(|| lookup::not_found(v))?;
    Ok(xml(
        StatusCode::OK,
        v.content_type(),
        lookup::soap_reply(v, &id, &username),
    ))
}
