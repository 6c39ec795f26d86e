//! Every route of the user-lookup service, in one list.

mod lookup;
mod ops;

use axum::{Extension, Router, middleware, routing::get};

use crate::state::AppState;

/// The checked-in contract, served at `/user/soap?wsdl`.
pub const WSDL: &str = include_str!("../../../../wsdl/user-lookup.wsdl");

/// The service's routes (without the shared layers; see `hub_runtime::http::wrap`);
/// `wsdl` is where the served WSDL says the service lives.
pub fn router(state: AppState, wsdl: hub_soap::wsdl::Address) -> Router {
    Router::new()
        .route("/user/soap", get(lookup::legacy_get).post(lookup::soap))
        .route("/user/lookup", get(lookup::http_get))
        .route("/user-search/health", get(ops::health))
        .route("/health", get(ops::health))
        // Errors render in the version of the request's envelope (hub_soap::request).
        .layer(middleware::from_fn(hub_soap::request::scope))
        .layer(Extension(wsdl))
        .with_state(state)
}
