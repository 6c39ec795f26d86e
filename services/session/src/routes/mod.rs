//! Every route of the session service, in one list, with its OpenAPI document.

mod caller;
mod sessions;

use axum::Router;
use hub_runtime::openapi::{self, OpenApiRouter};
use utoipa_axum::routes;

use crate::state::AppState;

/// The service's routes (without the shared layers; see `hub_runtime::http::wrap`),
/// plus `GET /openapi.json`, generated from the same list.
///
/// `/api/sessions/verify` is a static segment, which the router always prefers to
/// `{userId}`: the original registered `/:userId` first and so never reached it.
pub fn router(state: AppState) -> Router {
    let router = OpenApiRouter::new()
        .routes(routes!(sessions::create_or_update))
        .routes(routes!(sessions::verify))
        .routes(routes!(sessions::read, sessions::update, sessions::delete));
    openapi::finish::<crate::Session, _>(
        router,
        "The caller's session document in MongoDB (port of the Express session-service).",
    )
    .with_state(state)
}

/// Every error body of this service (the original's shape).
pub use hub_runtime::openapi::Message;
