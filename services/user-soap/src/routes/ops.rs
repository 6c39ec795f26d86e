//! Health and the WSDL.

use axum::{
    Extension,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use hub_soap::{Fault, SoapVersion, wsdl};

use crate::state::AppState;

/// `GET /user-soap/health` and `/health`, with the original's bodies (without the
/// driver's message, which leaked internals).
pub async fn health(State(state): State<AppState>) -> Response {
    hub_runtime::http::health_legacy(
        down(&state).await.is_none(),
        "text/html;charset=utf-8",
        "Service is healthy",
        "Database connection failed",
    )
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

/// What is down, if anything: the check of the health paths and of `/readyz`.
pub(crate) async fn down(state: &AppState) -> Option<&'static str> {
    (!hub_db::healthy(&state.pool).await).then_some("PostgreSQL unavailable")
}
