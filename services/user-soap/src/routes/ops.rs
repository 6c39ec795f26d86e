//! Health and the WSDL.

use axum::{
    Extension,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use hub_soap::{Fault, SoapVersion, wsdl};

use crate::state::AppState;

/// `GET /user-soap/health` and `/health`, with the original's bodies (without the
/// driver's message, which leaked internals).
pub async fn health(State(state): State<AppState>) -> Response {
    let html = [(header::CONTENT_TYPE, "text/html;charset=utf-8")];
    match hub_db::ping(&state.pool).await {
        Ok(()) => (StatusCode::OK, html, "Service is healthy").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            hub_runtime::http::verbatim((
                StatusCode::INTERNAL_SERVER_ERROR,
                html,
                "Database connection failed",
            ))
        }
    }
}

/// `GET /register?wsdl` (or `?WSDL`); any other GET is a 405 Fault.
pub async fn wsdl(
    Extension(address): Extension<wsdl::Address>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if !wsdl::is_wsdl_query(query.as_deref()) {
        return Fault::client("Use POST for SOAP requests, or GET ?wsdl for the contract")
            .with_version(SoapVersion::from_headers(&headers))
            .with_status(StatusCode::METHOD_NOT_ALLOWED)
            .into_response();
    }
    address.serve(super::WSDL, &headers)
}
