//! Every route of the connected service, in one list, with its OpenAPI document.

mod last_connection;

use axum::Router;
use hub_runtime::openapi::{self, OpenApiRouter};
use utoipa_axum::routes;

use crate::state::AppState;

/// The service's routes (without the shared layers; see `hub_runtime::http::wrap`),
/// plus `GET /openapi.json`, generated from the same list.
pub fn router(state: AppState) -> Router {
    let router = OpenApiRouter::new().routes(routes!(last_connection::last_connection));
    openapi::finish::<crate::Connected, _>(
        router,
        "When did a user last connect (port of the Express connected-service).",
    )
    .with_state(state)
}

/// Every error body of this service (the original's shape).
pub use hub_runtime::openapi::ErrorBody;
