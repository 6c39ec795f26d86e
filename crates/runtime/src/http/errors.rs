//! Errors in the caller's protocol: what services render (`{"<key>": …}` for REST,
//! through [`JsonError`]), and the rewrite of everything else (the framework's 404,
//! 405, 413, rejections, timeouts, panics) by the service's [`ErrorRenderer`].

use std::sync::Arc;

use axum::{
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::headers::media_type;

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

/// A REST service's error enum: its status per variant and its body key. Derived
/// (`#[derive(JsonError)]`, from `hub-derive`, with the enum's `IntoResponse`), it
/// answers `{"<KEY>": "<Display text>"}`, logging a failure once, as [`json_error`] does.
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

/// A REST service's failure on its own side, the one variant of its error enum that
/// is not the caller's mistake: a backing server down or saturated (503, logged at
/// WARN) or anything unexpected (500, logged at ERROR). The body carries only the
/// service's fixed text for each ([`Failure::text`]), never the cause.
#[derive(Debug)]
pub enum Failure {
    /// 503: a backing server is down or saturated; retry later.
    Unavailable(anyhow::Error),
    /// 500: a bug or an unexpected failure.
    Internal(anyhow::Error),
}

impl Failure {
    /// `Unavailable` when `unavailable` (the backing client's own classification of
    /// `cause`), else `Internal`.
    pub fn new(unavailable: bool, cause: impl Into<anyhow::Error>) -> Self {
        if unavailable {
            Self::Unavailable(cause.into())
        } else {
            Self::Internal(cause.into())
        }
    }

    /// 503 or 500.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The service's text for this failure: `unavailable` or `internal`.
    pub fn text<'a>(&self, unavailable: &'a str, internal: &'a str) -> &'a str {
        match self {
            Self::Unavailable(_) => unavailable,
            Self::Internal(_) => internal,
        }
    }

    /// What to log for it.
    pub fn cause(&self) -> Cause<'_> {
        match self {
            Self::Unavailable(e) => Cause::Unavailable(e),
            Self::Internal(e) => Cause::Internal(e),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text("backing service unavailable", "internal error"))
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unavailable(e) | Self::Internal(e) => Some(e.as_ref()),
        }
    }
}

/// The safe message a layer attaches to a body-less error for the renderer to use.
#[derive(Debug, Clone, Copy)]
struct ErrorHint(&'static str);

pub(super) fn bare_error(status: StatusCode, message: &'static str) -> Response {
    let mut resp = status.into_response();
    resp.extensions_mut().insert(ErrorHint(message));
    resp
}

/// Any error response whose body is not already JSON or XML (404 for an unknown path,
/// 405, 413 from the body limit, 415/400 from an extractor, a timeout, a panic, ...) is
/// re-rendered in the caller's protocol; headers such as `Allow` are kept. What a
/// service renders itself passes untouched, with nothing for its author to remember;
/// only a deliberately non-protocol body needs [`Verbatim`].
pub(super) fn protocol_errors(
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

/// A JSON error renderer for REST services: `{"<key>": "<message>"}`.
pub fn json_renderer(key: &'static str) -> ErrorRenderer {
    Arc::new(move |_request_headers, status, message| {
        let mut body = serde_json::Map::new();
        body.insert(key.to_owned(), message.into());
        (status, axum::Json(body)).into_response()
    })
}
