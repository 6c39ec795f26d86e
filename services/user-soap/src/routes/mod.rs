//! Every route of the user-soap service, in one list.

pub(crate) mod message;
mod ops;
mod register;

use axum::{
    Extension, Router, middleware,
    routing::{get, post},
};

use crate::state::AppState;

/// The checked-in contract, served at `/register?wsdl`.
pub const WSDL: &str = include_str!("../../../../wsdl/user-soap.wsdl");

/// The service's routes (without the shared layers; see `hub_runtime::http::wrap`);
/// `wsdl` is where the served WSDL says the service lives.
pub fn router(state: AppState, wsdl: hub_soap::wsdl::Address) -> Router {
    Router::new()
        .route("/register", post(register::register).get(ops::wsdl))
        .route("/user-soap/health", get(ops::health))
        .route("/health", get(ops::health))
        // Errors render in the version of the request's envelope (hub_soap::request).
        .layer(middleware::from_fn(hub_soap::request::scope))
        .layer(Extension(wsdl))
        .with_state(state)
}
