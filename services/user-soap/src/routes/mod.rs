//! Every route of the user-soap service, in one list.

pub(crate) mod api;
pub(crate) mod message;
mod ops;
mod register;

use axum::{Extension, Router, routing::post};
use hub_runtime::http::HealthBody;
use hub_runtime::openapi::{self, OpenApiRouter};
use utoipa_axum::routes;

use crate::state::AppState;

/// The checked-in contract, served at `/register?wsdl`.
pub const WSDL: &str = include_str!("../../../../wsdl/user-soap.wsdl");

/// How `GET /health` and the legacy health path answer: original's bodies (the
/// skeleton serves both from `Service::down`).
pub const HEALTH: HealthBody = HealthBody::Text {
    content_type: "text/html;charset=utf-8",
    healthy: "Service is healthy",
    unhealthy: "Database connection failed",
};

/// The service's routes (without the shared layers; see `hub_runtime::http::wrap`);
/// `wsdl` is where the served WSDL says the service lives.
pub fn router(state: AppState, wsdl: hub_soap::wsdl::Address) -> Router {
    // The JSON registration for REST front-ends, described at `GET /openapi.json`.
    let rest = openapi::finish::<crate::UserSoap, _>(
        OpenApiRouter::new().routes(routes!(api::create_user)),
        "User registration: SOAP at /register (wsdl/user-soap.wsdl), and JSON at /api/users.",
    );
    rest.merge(
        Router::new()
            // The SOAP operation answers its errors in its envelope's version
            // (hub_soap::InVersion).
            .route("/register", post(register::register).get(ops::wsdl))
            .layer(Extension(wsdl)),
    )
    .with_state(state)
}
