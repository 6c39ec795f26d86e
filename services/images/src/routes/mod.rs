//! Every route of the images service, in one list, with its OpenAPI document.

mod images;
mod user;

use axum::Router;
use hub_runtime::openapi::{self, OpenApiRouter};
use utoipa_axum::routes;

use crate::state::AppState;

/// The service's routes (without the shared layers; see `hub_runtime::http::wrap`),
/// plus `GET /openapi.json`, generated from the same list.
pub fn router(state: AppState) -> Router {
    let router = OpenApiRouter::new()
        .routes(routes!(images::upload_image))
        .routes(routes!(images::list_images))
        .routes(routes!(user::user_images));
    openapi::finish::<crate::Images, _>(
        router,
        "Profile image upload and listing on S3 (port of the Flask profile-image-service).",
    )
    .with_state(state)
}

/// Every error body of this service (the original's shape).
pub use hub_runtime::openapi::ErrorBody;
