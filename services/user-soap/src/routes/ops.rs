//! The WSDL.

use axum::{
    Extension,
    extract::RawQuery,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use hub_soap::{Fault, SoapVersion, wsdl};

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
