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
use serde::Serialize;
use utoipa::{
    ToSchema,
    openapi::{
        Response,
        path::{HttpMethod, Operation, OperationBuilder},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
pub use utoipa_axum::router::OpenApiRouter;

use crate::{
    http::{HealthBody, KeyOrder},
    service::Service,
};

/// The error body of the services whose originals answered `{"message": "..."}`.
#[derive(Serialize, ToSchema)]
pub struct Message {
    /// What went wrong, e.g. `Invalid credentials`.
    pub message: String,
}

/// The error body of the services whose originals answered `{"error": "..."}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, e.g. `No file provided`.
    pub error: String,
}

/// `GET` of a JSON health path (the check of `/readyz`, the original's bodies).
fn health_operation(order: KeyOrder) -> Operation {
    let unhealthy = match order {
        KeyOrder::Sorted => "`{\"error\",\"status\":\"unhealthy\"}`, `error` naming what is down",
        KeyOrder::AsWritten => {
            "`{\"status\":\"unhealthy\",\"error\"}`, `error` naming what is down"
        }
    };
    OperationBuilder::new()
        .description(Some(
            "Every backing server the service needs answers (the check of `/readyz`).",
        ))
        .response("200", Response::new("`{\"status\":\"healthy\"}`"))
        .response("500", Response::new(unhealthy))
        .build()
}

/// Splits `router` into the axum router and its OpenAPI document, names the document
/// after `S` (with `description`), documents the health paths the runtime serves for
/// `S` (see [`Entry`](crate::service::Entry)) and serves the document at `GET /openapi.json`.
pub fn finish<S: Service, St>(router: OpenApiRouter<St>, description: &str) -> Router<St>
where
    St: Clone + Send + Sync + 'static,
{
    let (router, mut api) = router.split_for_parts();
    api.info.title = S::NAME.to_owned();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    api.info.description = Some(description.to_owned());
    api.info.license = None;
    api.info.contact = None;
    if let HealthBody::Json(order) = S::ENTRY.health {
        for path in [S::ENTRY.health_path, "/health"] {
            api.paths
                .add_path_operation(path, vec![HttpMethod::Get], health_operation(order));
        }
    }
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
