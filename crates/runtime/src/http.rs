//! The HTTP layers every service wears, and the server loop.
//!
//! [`wrap`] adds, outermost first: request id (kept if the caller sent a sane one,
//! echoed back), a tracing span per request, the CORS allow-list, the rewrite of any
//! framework-made error into the caller's protocol, panic catching, the request
//! timeout and the body limit. A service only supplies its routes and an
//! [`ErrorRenderer`] that knows its error shape (`{"message"}`, `{"error"}`, a SOAP
//! Fault).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Request},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::CorsLayer,
    trace::{DefaultOnResponse, TraceLayer},
};

use crate::config::{ConfigError, Vars};

/// The request id header, as the load balancers and the originals' logs name it.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Settings shared by every service's HTTP stack.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `HOST` (default `0.0.0.0`) and `PORT` (default: the service's historical port).
    /// Port 0 picks a free port.
    pub addr: SocketAddr,
    /// `CORS_ALLOWED_ORIGINS`: comma-separated exact origins; default none (no CORS
    /// headers at all, as the originals behind their proxy).
    pub cors_origins: Vec<String>,
    /// `MAX_BODY_BYTES`: request bodies above this get 413; default per service.
    pub body_limit: usize,
    /// `REQUEST_TIMEOUT_SECS`: a request still running after this gets 503; default 30.
    pub request_timeout: Duration,
    /// `SHUTDOWN_DRAIN_SECS`: how long in-flight requests may finish after SIGTERM; default 10.
    pub drain_timeout: Duration,
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
        Ok(Self {
            addr: vars.listen_addr(default_port)?,
            cors_origins,
            body_limit: vars.parse_or("MAX_BODY_BYTES", default_body_limit)?,
            request_timeout: vars.seconds_or("REQUEST_TIMEOUT_SECS", Duration::from_secs(30))?,
            drain_timeout: vars.seconds_or("SHUTDOWN_DRAIN_SECS", Duration::from_secs(10))?,
        })
    }
}

/// Renders an error in the service's protocol, given the request's headers (a SOAP
/// service answers in the SOAP version the request used), the status and a safe message.
pub type ErrorRenderer = Arc<dyn Fn(&HeaderMap, StatusCode, &str) -> Response + Send + Sync>;

/// Marks an error response whose body is deliberately *not* in the service's protocol
/// (a legacy plain-text or HTML health body), so the error rewrite keeps it. Error
/// bodies in JSON or XML need no mark: the rewrite keeps them anyway.
#[derive(Debug, Clone, Copy)]
pub struct Verbatim;

/// `resp`, marked [`Verbatim`]: a legacy non-JSON, non-XML error body that must reach
/// the client exactly as the original sent it.
pub fn verbatim(resp: impl IntoResponse) -> Response {
    let mut resp = resp.into_response();
    resp.extensions_mut().insert(Verbatim);
    resp
}

/// The media type of `headers`' Content-Type: lower-cased, without parameters.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|media| media.trim().to_ascii_lowercase())
}

/// Whether `headers` declare a JSON body: `application/json` or `application/*+json`,
/// any parameters (Flask's `is_json`, `express.json()`'s default type).
pub fn declares_json(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|media| {
        media == "application/json"
            || (media.starts_with("application/") && media.ends_with("+json"))
    })
}

/// True when the response's body is JSON or XML: the services render every error they
/// make in one of those (the REST services' `{"message"}`/`{"error"}`, SOAP Faults), and
/// the framework never does (its rejections are plain text, its 404/405 empty).
fn speaks_a_protocol(resp: &Response) -> bool {
    let Some(media) = media_type(resp.headers()) else {
        return false;
    };
    media == "application/json"
        || media == "text/xml"
        || media == "application/xml"
        || media.ends_with("+json")
        || media.ends_with("+xml")
}

/// What an error response says about the server, for the one log line it deserves.
#[derive(Debug, Clone, Copy)]
pub enum Cause<'a> {
    /// The caller's mistake: nothing to log (the access log has the status).
    Client,
    /// A backing server is down or saturated: logged at WARN with its cause chain.
    Unavailable(&'a anyhow::Error),
    /// A bug or an unexpected failure: logged at ERROR with its cause chain.
    Internal(&'a anyhow::Error),
}

/// The error response of a REST service: `{"<key>": message}` with `status` (`key` is
/// the original's: `message` or `error`). Logs `cause` once, here,
/// where the error is handled; the body never carries it.
pub fn json_error(status: StatusCode, key: &str, message: &str, cause: Cause<'_>) -> Response {
    match cause {
        Cause::Client => {}
        Cause::Unavailable(e) => {
            tracing::warn!(error = format!("{e:#}"), "backing service unavailable");
        }
        Cause::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
    }
    let mut body = serde_json::Map::new();
    body.insert(key.to_owned(), serde_json::Value::from(message));
    (status, axum::Json(serde_json::Value::Object(body))).into_response()
}

/// A REST service's error enum: its status per variant and its body key. With
/// [`impl_json_error_response!`](crate::impl_json_error_response) it answers
/// `{"<KEY>": "<Display text>"}`, logging a failure once, as [`json_error`] does.
pub trait JsonError: std::fmt::Display {
    /// The original's body key: `message` or `error`.
    const KEY: &'static str;

    /// The HTTP status of this error.
    fn status(&self) -> StatusCode;

    /// Headers this error adds (`Retry-After`, `WWW-Authenticate`); none by default.
    fn headers(&self, _headers: &mut HeaderMap) {}
}

/// The response for `error` (see [`JsonError`]); `cause` says what to log.
pub fn json_error_response<E: JsonError>(error: &E, cause: Cause<'_>) -> Response {
    let mut resp = json_error(error.status(), E::KEY, &error.to_string(), cause);
    error.headers(resp.headers_mut());
    resp
}

#[doc(hidden)]
pub use axum as __axum;

/// `impl IntoResponse` for a [`JsonError`] enum whose `Unavailable(anyhow::Error)` and
/// `Internal(anyhow::Error)` variants are the server's failures (logged at WARN and
/// ERROR); every other variant is the caller's mistake (not logged). A macro because
/// `IntoResponse` is axum's trait: no shared blanket `impl` may name it.
#[macro_export]
macro_rules! impl_json_error_response {
    ($error:ty) => {
        impl $crate::http::__axum::response::IntoResponse for $error {
            fn into_response(self) -> $crate::http::__axum::response::Response {
                let cause = match &self {
                    Self::Unavailable(e) => $crate::http::Cause::Unavailable(e),
                    Self::Internal(e) => $crate::http::Cause::Internal(e),
                    _ => $crate::http::Cause::Client,
                };
                $crate::http::json_error_response(&self, cause)
            }
        }
    };
}

/// The token of `Authorization: Bearer <token>`: the scheme in any case (RFC 9110
/// §11.1), the token trimmed; `None` when the header is absent, not text, of another
/// scheme or empty. (auth keeps its original's stricter legacy rule on `/profile`.)
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
}

/// The request id of the current request (see [`REQUEST_ID`]).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            // Only reachable when a handler runs outside `wrap` (unit tests).
            .unwrap_or_else(|| RequestId(uuid::Uuid::new_v4().to_string())))
    }
}

/// Applies the shared layers to a service's finished router.
pub fn wrap(router: Router, cfg: &HttpConfig, render: ErrorRenderer) -> Router {
    let timeout = cfg.request_timeout;
    crate::metrics::handle();
    let mut router = router
        .route("/metrics", axum::routing::get(crate::metrics::render))
        // An unknown path: 404, rendered in the caller's protocol by the rewrite below.
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(DefaultBodyLimit::max(cfg.body_limit))
        .layer(middleware::from_fn(
            move |req: Request, next: Next| async move {
                match tokio::time::timeout(timeout, next.run(req)).await {
                    Ok(resp) => resp,
                    Err(_) => {
                        tracing::warn!(
                            timeout_ms = timeout.as_millis() as u64,
                            "request timed out"
                        );
                        bare_error(StatusCode::SERVICE_UNAVAILABLE, "Request timed out")
                    }
                }
            },
        ))
        .layer(CatchPanicLayer::custom(|_panic| {
            // The panic payload may hold user data: it is not logged.
            tracing::error!("handler panicked");
            bare_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
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
                protocol_errors(&render, &headers, next.run(req).await)
            }
        }))
        // Outside the error rewrite: it sees the final status, timeouts and panics included.
        .layer(middleware::from_fn(record_metrics));
    if let Some(cors) = cors_layer(&cfg.cors_origins) {
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
                    let id = req.extensions().get::<RequestId>().map(|r| r.0.as_str()).unwrap_or("");
                    tracing::info_span!("request", method = %req.method(), route = %route, request_id = %id)
                })
                // Paths and query strings may carry user data; the matched route is enough.
                .on_request(())
                // One access-log line per request (status, latency) at INFO.
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(middleware::from_fn(request_id))
}

/// Counts the request and its latency by matched route (not path: paths carry ids
/// and would explode the label set), method and final status.
async fn record_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = std::time::Instant::now();
    // Requests being served now; the guard also counts down a request whose future is
    // dropped (client gone, shutdown bound reached).
    let in_flight = metrics::gauge!("http_requests_in_flight", "route" => route.clone());
    in_flight.increment(1.0);
    let _done = InFlight(in_flight);
    let resp = next.run(req).await;
    let labels = [
        ("route", route),
        ("method", method),
        ("status", resp.status().as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    resp
}

/// Decrements `http_requests_in_flight` when the request ends, however it ends.
struct InFlight(metrics::Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// The safe message a layer attaches to a body-less error for the renderer to use.
#[derive(Debug, Clone, Copy)]
struct ErrorHint(&'static str);

fn bare_error(status: StatusCode, message: &'static str) -> Response {
    let mut resp = status.into_response();
    resp.extensions_mut().insert(ErrorHint(message));
    resp
}

/// Keeps a caller's request id when it is short and printable (it ends up in logs and
/// in AMQP correlation ids), otherwise mints one; echoes it on the response.
async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(value) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID.clone(), value.clone());
        req.extensions_mut().insert(RequestId(id.clone()));
        let mut resp = next.run(req).await;
        resp.headers_mut().insert(REQUEST_ID.clone(), value);
        resp
    } else {
        next.run(req).await
    }
}

fn is_sane_request_id(v: &str) -> bool {
    (1..=128).contains(&v.len())
        && v.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=')
        })
}

/// Any error response whose body is not already JSON or XML (404 for an unknown path,
/// 405, 413 from the body limit, 415/400 from an extractor, a timeout, a panic, ...) is
/// re-rendered in the caller's protocol; headers such as `Allow` are kept. What a
/// service renders itself passes untouched, with nothing for its author to remember;
/// only a deliberately non-protocol body needs [`Verbatim`].
fn protocol_errors(
    render: &ErrorRenderer,
    request_headers: &HeaderMap,
    resp: Response,
) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error())
        || speaks_a_protocol(&resp)
        || resp.extensions().get::<Verbatim>().is_some()
    {
        return resp;
    }
    let message = match (resp.extensions().get::<ErrorHint>(), status) {
        (Some(hint), _) => hint.0,
        (None, StatusCode::NOT_FOUND) => "Not found",
        (None, StatusCode::METHOD_NOT_ALLOWED) => "Method not allowed",
        (None, StatusCode::PAYLOAD_TOO_LARGE) => "Request body too large",
        (None, StatusCode::UNSUPPORTED_MEDIA_TYPE) => "Unsupported media type",
        (None, StatusCode::REQUEST_TIMEOUT) => "Request timed out",
        (None, s) if s.is_server_error() => "Internal server error",
        (None, _) => "Bad request",
    };
    let (parts, _) = resp.into_parts();
    let mut out = render(request_headers, status, message);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    out
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
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
            .max_age(Duration::from_secs(600)),
    )
}

/// Binds `addr` (port 0 allowed: tests learn the real port from the listener).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `app` until `shutdown` is cancelled, then lets in-flight requests finish
/// for at most `drain`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    drain: Duration,
) -> std::io::Result<()> {
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let server = std::future::IntoFuture::into_future(server);
    tokio::pin!(server);
    tokio::select! {
        res = &mut server => res,
        () = async { shutdown.cancelled().await; tokio::time::sleep(drain).await } => {
            tracing::warn!(drain_secs = drain.as_secs(), "drain bound reached, closing remaining connections");
            Ok(())
        }
    }
}

/// A JSON error renderer for REST services: `{"<key>": "<message>"}`.
pub fn json_renderer(key: &'static str) -> ErrorRenderer {
    Arc::new(move |_request_headers, status, message| {
        let mut body = serde_json::Map::new();
        body.insert(key.to_owned(), message.into());
        (status, axum::Json(body)).into_response()
    })
}

/// [`json_renderer`] with the body key of the service's own error type, so framework
/// errors and the service's errors cannot disagree on it.
pub fn json_renderer_for<E: JsonError>() -> ErrorRenderer {
    json_renderer(E::KEY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_application_json_or_a_json_suffix_whatever_the_case_and_parameters() {
        let with = |ct: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            h
        };
        assert!(declares_json(&with("application/json")));
        assert!(declares_json(&with("Application/JSON; charset=utf-8")));
        assert!(declares_json(&with("application/vnd.api+json")));
        assert!(!declares_json(&with("text/json")));
        assert!(!declares_json(&with("text/plain")));
        assert!(!declares_json(&HeaderMap::new()));
        assert_eq!(
            media_type(&with(" Text/XML ; charset=utf-8")).as_deref(),
            Some("text/xml")
        );
    }

    #[test]
    fn request_ids_must_be_short_and_printable() {
        assert!(is_sane_request_id("3f1c-abc_1.2:x"));
        assert!(!is_sane_request_id(""));
        assert!(!is_sane_request_id("has space"));
        assert!(!is_sane_request_id(&"a".repeat(129)));
        assert!(!is_sane_request_id("new\nline"));
    }
}
