//! Every route of the user-soap service, in one list.

pub(crate) mod message;
pub(crate) mod ops;
mod register;

use axum::{
    Extension, Router,
    handler::Handler,
    middleware,
    routing::{get, post},
};
use hub_soap::request::scope;

use crate::state::AppState;

/// The checked-in contract, served at `/register?wsdl`.
pub const WSDL: &str = include_str!("../../../../wsdl/user-soap.wsdl");

/// The service's routes (without the shared layers; see `hub_runtime::http::wrap`);
/// `wsdl` is where the served WSDL says the service lives.
pub fn router(state: AppState, wsdl: hub_soap::wsdl::Address) -> Router {
    Router::new()
        // Only the SOAP operation reads an envelope, so only it needs the version scope
        // (hub_soap::request); its errors render in the envelope's version.
        .route(
            "/register",
            post(register::register.layer(middleware::from_fn(scope))).get(ops::wsdl),
        )
        .route("/user-soap/health", get(ops::health))
        .route("/health", get(ops::health))
        .layer(Extension(wsdl))
        .with_state(state)
}
