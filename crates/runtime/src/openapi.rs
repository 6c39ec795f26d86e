//! OpenAPI documents for the REST services, generated from the code.
//!
//! A service lists its routes through [`OpenApiRouter`] with `routes!(handler)`, where
//! each handler carries a `#[utoipa::path]` annotation. The same call registers the
//! axum route and its OpenAPI path, so the served document cannot drift from the
//! routes: a route exists in one exactly when it exists in the other. [`finish`]
//! splits the two and serves the document at `GET /openapi.json`. The error rows many
//! operations share are declared once with [`error_responses!`](crate::error_responses).

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    Router,
    http::{StatusCode, header},
    routing::get,
};
use serde::Serialize;
#[doc(hidden)]
pub use utoipa as __utoipa;
use utoipa::{
    ToSchema,
    openapi::{
        ContentBuilder, Ref, RefOr, Response, ResponseBuilder,
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

/// Declares sets of error responses that several operations share, to list in
/// `#[utoipa::path(responses(...))]` beside each operation's own rows, e.g.
/// `responses((status = 200, body = Profile), TokenFailures)`:
///
/// ```ignore
/// hub_runtime::error_responses! {
///     /// What every route behind the token check may answer.
///     pub TokenFailures(Message) {
///         401 => "Invalid token",
///         403 => "Token is missing",
///     }
///     /// `: Base` starts from `Base`'s rows; a row of the same status replaces Base's.
///     pub OwnerFailures(Message): TokenFailures {
///         403 => "Token is missing, or another user's id",
///     }
/// }
/// ```
///
/// Each set is an uninhabited type implementing `utoipa::IntoResponses`; every row is
/// answered with the JSON body named in parentheses, as a row
/// `(status = 401, description = "...", body = Message)` is. utoipa registers only the
/// schemas of an operation's own rows, so some operation's own row must name the body
/// too (the tests' OpenAPI check fails on a reference to an undefined schema).
#[macro_export]
macro_rules! error_responses {
    ($(
        $(#[$attr:meta])*
        $vis:vis $name:ident($body:ty) $(: $base:ty)? {
            $($status:literal => $description:expr),+ $(,)?
        }
    )+) => {$(
        $(#[$attr])*
        $vis enum $name {}

        impl $crate::openapi::__utoipa::IntoResponses for $name {
            fn responses() -> ::std::collections::BTreeMap<
                ::std::string::String,
                $crate::openapi::__utoipa::openapi::RefOr<$crate::openapi::__utoipa::openapi::Response>,
            > {
                let mut responses = ::std::collections::BTreeMap::new();
                $(responses.extend(<$base as $crate::openapi::__utoipa::IntoResponses>::responses());)?
                responses.extend($crate::openapi::error_rows::<$body>(&[$(($status, $description)),+]));
                responses
            }
        }
    )+};
}

/// The responses of [`error_responses!`](crate::error_responses): each
/// `(status, description)` with the JSON body `B`.
#[doc(hidden)]
pub fn error_rows<B: ToSchema>(rows: &[(u16, &str)]) -> BTreeMap<String, RefOr<Response>> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(B::name())))
        .build();
    rows.iter()
        .map(|&(status, description)| {
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/json", content.clone())
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// The first schema the document refers to (`$ref`) without defining it, if any: a
/// shared error set whose body no operation's own row names (see `error_responses!`).
/// The tests' OpenAPI check asserts there is none.
pub fn undefined_schema(doc: &serde_json::Value) -> Option<&str> {
    let defined = &doc["components"]["schemas"];
    let mut stack = vec![doc];
    while let Some(value) = stack.pop() {
        match value {
            serde_json::Value::Object(map) => {
                let name = map
                    .get("$ref")
                    .and_then(serde_json::Value::as_str)
                    .and_then(|r| r.strip_prefix("#/components/schemas/"));
                if let Some(name) = name.filter(|name| defined.get(name).is_none()) {
                    return Some(name);
                }
                stack.extend(map.values());
            }
            serde_json::Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    None
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, dead_code)]
    use serde_json::json;
    use utoipa::Path;

    use super::*;

    crate::error_responses! {
        /// A set.
        Base(Message) {
            401 => "Who?",
            500 => "Oops",
        }
        /// A set on top of another.
        Extended(Message): Base {
            401 => "Who are you?",
            404 => "Gone",
        }
    }

    #[utoipa::path(get, path = "/", responses(
        (status = 200, description = "Fine"),
        (status = 401, description = "Who are you?", body = Message),
        (status = 404, description = "Gone", body = Message),
        (status = 500, description = "Oops", body = Message),
    ))]
    async fn with_rows() {}

    #[utoipa::path(get, path = "/", responses((status = 200, description = "Fine"), Extended))]
    async fn with_a_set() {}

    #[test]
    fn a_set_documents_what_its_rows_would() {
        let responses = |op: Operation| serde_json::to_value(op.responses).unwrap();
        assert_eq!(
            responses(__path_with_a_set::operation()),
            responses(__path_with_rows::operation())
        );
    }

    #[test]
    fn a_reference_to_an_undefined_schema_is_found() {
        let schema = json!({"$ref": "#/components/schemas/Message"});
        let mut doc = json!({"paths": {"/": {"get": {"responses": {"401": {"content": {
            "application/json": {"schema": schema}
        }}}}}}});
        assert_eq!(undefined_schema(&doc), Some("Message"));
        doc["components"] = json!({"schemas": {"Message": {}}});
        assert_eq!(undefined_schema(&doc), None);
    }
}
