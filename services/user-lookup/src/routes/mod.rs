//! Every route of the user-lookup service, in one list.

mod gate;
mod lookup;

use axum::{Extension, Router, handler::Handler, middleware, routing::get};
use hub_runtime::http::HealthBody;

use crate::state::AppState;

/// The checked-in contract, served at `/user/soap?wsdl`.
pub const WSDL: &str = include_str!("../../../../wsdl/user-lookup.wsdl");

/// How `GET /health` and the legacy health path answer: Go original's bodies (the
/// skeleton serves both from `Service::down`).
pub const HEALTH: HealthBody = HealthBody::Text {
    content_type: "text/plain; charset=utf-8",
    healthy: "✅ Healthy",
    unhealthy: "❌ Unhealthy\n",
};

/// The service's routes (without the shared layers; see `hub_runtime::http::wrap`);
/// `wsdl` is where the served WSDL says the service lives.
pub fn router(state: AppState, wsdl: hub_soap::wsdl::Address) -> Router {
    // With WS-Security on, the GETs need a Bearer token (gate.rs); the POST's envelope
    // is checked by its extractor. Either way the guard asks crate::bearer, once, whether
    // a Bearer token stands (signature, expiry, revocation).
    let gate = || middleware::from_fn_with_state(state.clone(), gate::get);
    Router::new()
        // The SOAP operation answers its errors in its envelope's version, the GETs
        // in 1.1 (hub_soap::InVersion).
        .route(
            "/user/soap",
            get(lookup::legacy_get.layer(gate())).post(lookup::soap),
        )
        .route("/user/lookup", get(lookup::http_get.layer(gate())))
        .layer(Extension(wsdl))
        .with_state(state)
}
