//! Every route of the user-soap service, in one list.

pub(crate) mod api;
pub(crate) mod message;
pub(crate) mod ops;
mod register;

use axum::{
    Extension, Router,
    handler::Handler,
    middleware,
    routing::{get, post},
};
use hub_runtime::openapi::{self, OpenApiRouter};
use hub_soap::request::scope;
use utoipa_axum::routes;

use crate::state::AppState;

/// The checked-in contract, served at `/register?wsdl`.
pub const WSDL: &str = include_str!("../../../../wsdl/user-soap.wsdl");

/// The service's routes (without the shared layers; see `hub_runtime::http::wrap`);
/// `wsdl` is where the served WSDL says the service lives.
pub fn router(state: AppState, wsdl: hub_soap::wsdl::Address) -> Router {
    // The JSON registration for REST front-ends, described at `GET /openapi.json`.
    let rest = openapi::finish(
        OpenApiRouter::new().routes(routes!(api::create_user)),
        "user-soap",
        env!("CARGO_PKG_VERSION"),
        "User registration: SOAP at /register (wsdl/user-soap.wsdl), and JSON at /api/users.",
    );
    rest.merge(
        Router::new()
            // Only the SOAP operation reads an envelope, so only it needs the version scope
            // (hub_soap::request); its errors render in the envelope's version.
            .route(
                "/register",
                post(register::register.layer(middleware::from_fn(scope))).get(ops::wsdl),
            )
            .route("/user-soap/health", get(ops::health))
            .route("/health", get(ops::health))
            .layer(Extension(wsdl)),
    )
    .with_state(state)
}
