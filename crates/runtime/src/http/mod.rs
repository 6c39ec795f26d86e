//! The HTTP layers every service wears, and the server loop.
//!
//! [`wrap`] adds, outermost first: request id (kept if the caller sent a sane one,
//! echoed back; [`request_id`]), a tracing span per request, the CORS allow-list, the
//! rewrite of any error not already in the caller's protocol ([`errors`]), metrics per
//! route ([`metrics`]), panic catching, the request timeout and the body limit. A
//! service only supplies its routes and an [`ErrorRenderer`] that knows its error shape
//! (`{"message"}`, `{"error"}`, a SOAP Fault). [`headers`] reads the request headers
//! several services need the same way.

pub mod client_ip;
mod errors;
mod headers;
mod health;
/// Request bodies read from a JSON object field by field, with the service's own errors.
pub mod json_body;
mod metrics;
mod request_id;
mod server;

use std::{net::SocketAddr, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::{DefaultBodyLimit, MatchedPath, Request},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
};
use tokio::net::TcpListener;
use tower_http::{catch_panic::CatchPanicLayer, cors::CorsLayer, trace::TraceLayer};

#[doc(hidden)]
pub use axum as __axum;
pub use errors::{
    Cause, ErrorRenderer, Failure, JsonError, Verbatim, json_error, json_error_response,
    json_renderer, verbatim,
};
pub use headers::{bearer_token, declares_json, media_type};
pub use health::{HealthBody, KeyOrder};
/// `#[derive(JsonError)]`: the trait's impl and the enum's `IntoResponse` (see `hub-derive`).
pub use hub_derive::JsonError;
pub use request_id::{REQUEST_ID, RequestId};
pub use server::{ConnectionLimits, serve};

use crate::config::{ConfigError, Vars};

/// Settings shared by every service's HTTP stack.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `HOST` (default `0.0.0.0`) and `PORT` (default: the service's historical port).
    /// Port 0 picks a free port.
    pub addr: SocketAddr,
    /// `CORS_ALLOWED_ORIGINS`: comma-separated exact origins; default none (no CORS
    /// headers at all, as the originals behind their proxy).
    pub cors_origins: Vec<String>,
    /// `CORS_ALLOW_CREDENTIALS` (default false): `Access-Control-Allow-Credentials: true`
    /// for the listed origins, so a page may send cookies or HTTP authentication with
    /// `credentials: 'include'`. Only with `CORS_ALLOWED_ORIGINS` (never for any origin).
    pub cors_credentials: bool,
    /// `MAX_BODY_BYTES`: request bodies above this get 413; default per service.
    pub body_limit: usize,
    /// `REQUEST_TIMEOUT_SECS`: a request still running after this gets 503; default 30.
    pub request_timeout: Duration,
    /// `SHUTDOWN_DRAIN_SECS`: how long in-flight requests may finish after SIGTERM; default 10.
    pub drain_timeout: Duration,
    /// `HEADER_READ_TIMEOUT_SECS` (default 30), `MAX_CONNECTIONS` (default 10 000) and
    /// `MAX_CONNECTIONS_PER_CLIENT` (default half of that, at most 256; `TRUSTED_PROXIES`
    /// exempt): see [`server`].
    pub connections: ConnectionLimits,
}

impl HttpConfig {
    /// Reads the settings; `default_port` and `default_body_limit` are the service's own.
    pub fn from_vars(
        vars: &Vars<'_>,
        default_port: u16,
        default_body_limit: usize,
    ) -> Result<Self, ConfigError> {
        let cors_origins = vars.list("CORS_ALLOWED_ORIGINS");
        for origin in &cors_origins {
            if HeaderValue::from_str(origin).is_err() || origin == "*" {
                return Err(ConfigError::invalid(
                    "CORS_ALLOWED_ORIGINS",
                    "each entry must be an exact origin such as https://app.example.com",
                ));
            }
        }
        let cors_credentials = vars.bool_or("CORS_ALLOW_CREDENTIALS", false)?;
        if cors_credentials && cors_origins.is_empty() {
            return Err(ConfigError::invalid(
                "CORS_ALLOW_CREDENTIALS",
                "credentials are allowed only for the exact origins of CORS_ALLOWED_ORIGINS, which is empty",
            ));
        }
        let max_connections = vars.positive_or("MAX_CONNECTIONS", 10_000usize)?;
        Ok(Self {
            addr: vars.listen_addr(default_port)?,
            cors_origins,
            cors_credentials,
            body_limit: vars.parse_or("MAX_BODY_BYTES", default_body_limit)?,
            request_timeout: vars.seconds_or("REQUEST_TIMEOUT_SECS", Duration::from_secs(30))?,
            drain_timeout: vars.seconds_or("SHUTDOWN_DRAIN_SECS", Duration::from_secs(10))?,
            connections: ConnectionLimits {
                header_read_timeout: vars
                    .seconds_or("HEADER_READ_TIMEOUT_SECS", Duration::from_secs(30))?,
                max_connections,
                max_per_client: vars.positive_or(
                    "MAX_CONNECTIONS_PER_CLIENT",
                    server::default_per_client(max_connections),
                )?,
                clients: client_ip::ProxyTrust::from_vars(vars)?,
            },
        })
    }
}

/// HELP text of the metrics the HTTP layers and the server loop record (called once the
/// recorder is installed, by `crate::metrics`).
pub(crate) fn describe_metrics() {
    metrics::describe();
    server::describe();
}

/// Applies the shared layers to a service's finished router.
pub fn wrap(router: Router, cfg: &HttpConfig, render: ErrorRenderer) -> Router {
    let timeout = cfg.request_timeout;
    let body_limit = cfg.body_limit;
    crate::metrics::handle();
    let mut router = router
        .route("/metrics", axum::routing::get(crate::metrics::render))
        // An unknown path: 404, rendered in the caller's protocol by the rewrite below.
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(DefaultBodyLimit::max(cfg.body_limit))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            refuse_declared_oversize(req, next, body_limit)
        }))
        .layer(middleware::from_fn(refuse_oversized_head))
        .layer(middleware::from_fn(
            move |req: Request, next: Next| async move {
                match tokio::time::timeout(timeout, next.run(req)).await {
                    Ok(resp) => resp,
                    Err(_) => {
                        tracing::warn!(
                            timeout_ms = timeout.as_millis() as u64,
                            "request timed out"
                        );
                        errors::bare_error(StatusCode::SERVICE_UNAVAILABLE, "Request timed out")
                    }
                }
            },
        ))
        .layer(CatchPanicLayer::custom(|_panic| {
            // The panic payload may hold user data: it is not logged.
            tracing::error!("handler panicked");
            errors::bare_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
        }))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let render = render.clone();
            async move {
                // Only what a renderer may need to pick the error's shape.
                let mut headers = HeaderMap::new();
                for name in [header::CONTENT_TYPE, header::ACCEPT] {
                    if let Some(v) = req.headers().get(&name) {
                        headers.insert(name, v.clone());
                    }
                }
                errors::protocol_errors(&render, &headers, next.run(req).await)
            }
        }))
        // Outside the error rewrite: it sees the final status, timeouts and panics included.
        .layer(middleware::from_fn(metrics::record_metrics));
    if let Some(cors) = cors_layer(&cfg.cors_origins, cfg.cors_credentials) {
        router = router.layer(cors);
    }
    router
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<Body>| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_default();
                    let id = req
                        .extensions()
                        .get::<RequestId>()
                        .map(|r| r.0.as_str())
                        .unwrap_or("");
                    let span = tracing::info_span!(
                        "request",
                        method = %req.method(),
                        route = %route,
                        request_id = %id,
                        trace_id = tracing::field::Empty,
                        otel.name = tracing::field::Empty,
                        otel.kind = tracing::field::Empty,
                    );
                    // A caller's W3C `traceparent` makes this request part of its trace.
                    let parent = req
                        .headers()
                        .get(hub_trace::TRACEPARENT)
                        .and_then(|v| v.to_str().ok());
                    if hub_trace::enabled() {
                        // What an OpenTelemetry backend shows (the JSON logs skip `otel.*`);
                        // recorded before the span is built by `continue_trace`.
                        span.record("otel.name", format!("{} {route}", req.method()));
                        span.record("otel.kind", "server");
                    }
                    if let Some(trace_id) = hub_trace::continue_trace(&span, parent) {
                        span.record("trace_id", trace_id);
                    }
                    span
                })
                // Paths and query strings may carry user data; the matched route is enough.
                .on_request(())
                // One access-log line per request at INFO, numbers as numbers (the
                // default line says `latency = "91 ms"`).
                .on_response(
                    |resp: &axum::response::Response, latency: Duration, _span: &tracing::Span| {
                        tracing::info!(
                            status = resp.status().as_u16(),
                            latency_ms = latency.as_secs_f64() * 1000.0,
                            "request finished"
                        );
                    },
                )
                // No second, ERROR line for every 5xx: a SOAP 1.1 Client fault is an HTTP
                // 500 but the client's mistake, and a real failure on our side is logged
                // once, with its cause, where it happens (`Cause`, `ServerError`, the
                // panic and timeout layers).
                .on_failure(()),
        )
        .layer(middleware::from_fn(request_id::request_id))
}

/// A client that sent `Expect: 100-continue` waits for permission before sending its
/// body: when the declared length is already over the limit, the answer is 413 at once,
/// without the `100 Continue` that reading the body would send (and the body it would
/// invite). Without `Expect`, the body limit answers as the body is read.
async fn refuse_declared_oversize(
    req: Request,
    next: Next,
    limit: usize,
) -> axum::response::Response {
    let expects_continue = req
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if expects_continue && declared.is_some_and(|n| n > limit as u64) {
        return errors::bare_error(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
    }
    next.run(req).await
}

/// The longest request target (path and query) answered, in bytes.
pub const MAX_URI_BYTES: usize = 16 * 1024;
/// The most request header fields answered.
pub const MAX_HEADER_COUNT: usize = 64;
/// The most request header bytes (names and values) answered.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// 414 for a request target over [`MAX_URI_BYTES`], 431 for more than
/// [`MAX_HEADER_COUNT`] header fields or [`MAX_HEADER_BYTES`] of them, rendered in the
/// caller's protocol (a SOAP Fault, a JSON error). These bounds sit below hyper's own
/// (a 64 KiB target, 100 fields, about 400 KiB of head), beyond which hyper answers a
/// bare 414/431 with no body before any of our code runs.
async fn refuse_oversized_head(req: Request, next: Next) -> axum::response::Response {
    let uri_bytes = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_bytes > MAX_URI_BYTES {
        return errors::bare_error(StatusCode::URI_TOO_LONG, "Request URI too long");
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if req.headers().len() > MAX_HEADER_COUNT || header_bytes > MAX_HEADER_BYTES {
        return errors::bare_error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "Request headers too large",
        );
    }
    next.run(req).await
}

fn cors_layer(origins: &[String], credentials: bool) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                REQUEST_ID.clone(),
                HeaderName::from_static("soapaction"),
            ])
            .expose_headers([REQUEST_ID.clone()])
            .allow_credentials(credentials)
            .max_age(Duration::from_secs(600)),
    )
}

/// Binds `addr` (port 0 allowed: tests learn the real port from the listener).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<HttpConfig, ConfigError> {
        let env = hub_config::fixed(pairs);
        HttpConfig::from_vars(&Vars::new(&env), 5001, 1024)
    }

    #[test]
    fn credentials_need_an_origin_list_and_any_origin_is_refused() {
        let err = read(&[("CORS_ALLOW_CREDENTIALS", "true")]).unwrap_err();
        assert!(err.to_string().contains("CORS_ALLOW_CREDENTIALS"), "{err}");
        let err = read(&[
            ("CORS_ALLOW_CREDENTIALS", "true"),
            ("CORS_ALLOWED_ORIGINS", "*"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("CORS_ALLOWED_ORIGINS"), "{err}");
        let cfg = read(&[
            ("CORS_ALLOW_CREDENTIALS", "true"),
            ("CORS_ALLOWED_ORIGINS", "https://app.example.com"),
        ])
        .unwrap();
        assert!(cfg.cors_credentials);
        assert!(!read(&[]).unwrap().cors_credentials);
    }
}
