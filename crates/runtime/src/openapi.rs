//! OpenAPI documents for the REST services, generated from the code.
//!
//! A service lists its routes through [`OpenApiRouter`] with `routes!(handler)`, where
//! each handler carries a `#[utoipa::path]` annotation. The same call registers the
//! axum route and its OpenAPI path, so the served document cannot drift from the
//! routes: a route exists in one exactly when it exists in the other. [`finish`]
//! splits the two and serves the document at `GET /openapi.json`.

use std::sync::Arc;

use axum::{
    Router,
    http::{StatusCode, header},
    routing::get,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
pub use utoipa_axum::router::OpenApiRouter;

/// Splits `router` into the axum router and its OpenAPI document, names the document
/// (`title`, `version`, `description`) and serves it at `GET /openapi.json`.
pub fn finish<S>(
    router: OpenApiRouter<S>,
    title: &str,
    version: &str,
    description: &str,
) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let (router, mut api) = router.split_for_parts();
    api.info.title = title.to_owned();
    api.info.version = version.to_owned();
    api.info.description = Some(description.to_owned());
    api.info.license = None;
    api.info.contact = None;
    // Handlers that need a token say `security(("bearer" = []))`; define that scheme.
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    // Rendered once: the document is fixed for the life of the process.
    let (status, body): (StatusCode, Arc<str>) = match api.to_json() {
        Ok(json) => (StatusCode::OK, json.into()),
        Err(e) => {
            tracing::error!(error = %e, "cannot render the OpenAPI document");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"message":"OpenAPI document unavailable"}"#.into(),
            )
        }
    };
    router.route(
        "/openapi.json",
        get(move || {
            let body = Arc::clone(&body);
            async move {
                (
                    status,
                    [(header::CONTENT_TYPE, "application/json")],
                    body.to_string(),
                )
            }
        }),
    )
}
