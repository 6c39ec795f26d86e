//! The SOAP request being served: its envelope, read by an extractor, and a handler's
//! error answered in the version of that envelope, which the handler names.
//!
//! A SOAP handler takes an [`Envelope`], whose version is a field of the request
//! ([`SoapRequest::version`]). A service's error type implements [`SoapError`] (it
//! renders itself for the version it is given) and not `IntoResponse`, so a handler
//! returns `Result<_, InVersion<Error>>`, which it can only build by naming the version
//! of its envelope ([`InVersion::of`]) or by saying it read none
//! ([`InVersion::no_envelope`]: the HTTP GET binding, answered in SOAP 1.1 as the
//! originals did). A handler that does neither does not compile: there is no ambient
//! version for a forgotten layer to leave unset.

use std::net::SocketAddr;

use axum::{
    body::Bytes,
    extract::{ConnectInfo, FromRequest, Request},
    http::HeaderMap,
    response::{IntoResponse, Response},
};

use crate::{
    envelope::{self, SoapRequest, SoapVersion},
    fault::Fault,
    wsse,
    xml::Limits,
};

/// A SOAP service's error: its answer in the version of the request it failed.
pub trait SoapError {
    /// The answer to a request whose envelope was in `envelope`'s version, or (`None`)
    /// that carried none: the HTTP GET binding, answered in SOAP 1.1 as the originals
    /// did (a service may also pick another HTTP status for it).
    fn answer(self, envelope: Option<SoapVersion>) -> Response;
}

/// A fault answers in the version it is given (SOAP 1.1 without an envelope).
impl SoapError for Fault {
    fn answer(self, envelope: Option<SoapVersion>) -> Response {
        self.with_version(envelope.unwrap_or_default())
            .into_response()
    }
}

/// A handler's error with the version of the request's envelope, if it read one: what a
/// SOAP service's handler returns. There is deliberately no `From<E>`: `?` cannot
/// attach a version the handler did not name.
#[derive(Debug)]
#[must_use]
pub struct InVersion<E> {
    envelope: Option<SoapVersion>,
    error: E,
}

impl<E> InVersion<E> {
    /// `error`, to be answered in `version` (the envelope's).
    pub fn new(version: SoapVersion, error: E) -> Self {
        Self {
            envelope: Some(version),
            error,
        }
    }

    /// For `map_err`: errors of a request whose envelope was in `version`.
    pub fn of(version: SoapVersion) -> impl FnOnce(E) -> Self {
        move |error| Self::new(version, error)
    }

    /// `error` of a request that carried no envelope (the HTTP GET binding).
    pub fn no_envelope(error: E) -> Self {
        Self {
            envelope: None,
            error,
        }
    }
}

impl<E> InVersion<E> {
    /// The error (to pick, e.g., the WS-Addressing `Action` of its fault).
    pub fn error(&self) -> &E {
        &self.error
    }
}

impl<E: SoapError> IntoResponse for InVersion<E> {
    fn into_response(self) -> Response {
        self.error.answer(self.envelope)
    }
}

/// A request body read as a SOAP envelope: Content-Type checked (415 Fault, except for
/// a SOAP 1.1 envelope, accepted under any media type as the originals did), the XML
/// read within the default [`Limits`], the envelope checked ([`envelope::parse`]: every
/// refusal is a Fault, in the version the request announced); the envelope's version is
/// [`SoapRequest::version`], for the handler to answer its errors in
/// ([`InVersion::of`]). SOAPAction is logged, and used only to check a WS-Addressing
/// `Action` agrees with it: dispatch is on the Body child's QName. When the service installed a [`wsse::Guard`] (WS-Security on), the
/// `wsse:Security` header is understood and the request's credentials are checked
/// here, before any handler runs; a refusal is the WS-Security fault.
#[derive(Debug, Clone)]
pub struct Envelope(pub SoapRequest);

impl<S: Send + Sync> FromRequest<S> for Envelope {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = request.headers().clone();
        let guard = request.extensions().get::<wsse::Guard>().cloned();
        // Where the request came from: whether it came over TLS depends on who says so.
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| *peer);
        let understood = if guard.is_some() {
            wsse::UNDERSTOOD
        } else {
            &[]
        };
        let parse = |body: &[u8], headers: &HeaderMap| {
            envelope::parse_understanding(body, headers, &Limits::default(), understood)
        };
        // The body first, as a `Bytes` argument would: a body over the limit is a 413
        // whatever its Content-Type.
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let parsed = match envelope::check_content_type(&headers) {
            Ok(()) => parse(&body, &headers).map_err(IntoResponse::into_response)?,
            // The originals read the raw body whatever its Content-Type, and pages post
            // the envelope as `text/plain` or a form type to avoid a CORS preflight: a
            // SOAP 1.1 envelope is accepted under any media type. Anything else (a 1.2
            // envelope, which keeps its media type rule, or no envelope) is the 415.
            Err(unsupported) => match parse(&body, &HeaderMap::new()) {
                Ok(parsed) if parsed.version == SoapVersion::V11 => parsed,
                _ => return Err(unsupported.into_response()),
            },
        };
        if let Some(action) = envelope::action(&headers) {
            tracing::debug!(soap.action = %action, "SOAPAction (hint only)");
        }
        if let Some(guard) = guard {
            guard
                .check(&parsed, &headers, peer)
                .await
                .map_err(IntoResponse::into_response)?;
        }
        Ok(Self(parsed))
    }
}

#[cfg(test)]
mod tests {
    use axum::{
        Router,
        body::Body,
        http::{StatusCode, header},
        routing::post,
    };
    use tower::ServiceExt as _;

    use super::*;

    async fn echo(Envelope(request): Envelope) -> Result<Response, InVersion<Fault>> {
        Err(InVersion::new(
            request.version,
            Fault::client(request.body.local),
        ))
    }

    async fn call(content_type: &str, body: &str) -> (StatusCode, String) {
        let app = Router::new().route("/", post(echo));
        let resp = app
            .oneshot(
                Request::post("/")
                    .header(header::CONTENT_TYPE, content_type)
                    .body(Body::from(body.to_owned()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn errors_after_the_envelope_answer_in_its_version() {
        let soap12 = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><Op xmlns="urn:op"/></e:Body></e:Envelope>"#;
        let (status, body) = call("application/soap+xml", soap12).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body.contains("<env:Value>env:Sender</env:Value><"),
            "{body}"
        );
        // The envelope's version wins over the one the Content-Type announced.
        let (status, body) = call("text/xml", soap12).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let soap11 = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><Op xmlns="urn:op"/></s:Body></s:Envelope>"#;
        let (status, body) = call("text/xml", soap11).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            body.contains("<faultcode>soapenv:Client</faultcode>"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn refusals_of_the_envelope_answer_in_the_announced_version() {
        let (status, body) = call("application/soap+xml", "<not-closed>").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("truncated"), "{body}");
        let (status, _) = call("application/json", "{}").await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[tokio::test]
    async fn a_soap11_envelope_is_read_under_any_media_type_a_soap12_one_is_not() {
        let v11 = r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><m:Op xmlns:m="urn:m"/></e:Body></e:Envelope>"#;
        let v12 = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><m:Op xmlns:m="urn:m"/></e:Body></e:Envelope>"#;
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "text/plain;charset=UTF-8",
        ] {
            let (status, body) = call(ct, v11).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{ct}");
            assert!(body.contains(">Op<"), "{ct}: the envelope was read: {body}");
            let (status, _) = call(ct, v12).await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        }
    }

    #[tokio::test]
    async fn without_an_envelope_the_version_is_soap11() {
        let response = InVersion::no_envelope(Fault::client("x")).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            SoapVersion::V11.content_type()
        );
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        assert!(
            String::from_utf8(body.to_vec())
                .unwrap()
                .contains("<faultcode>soapenv:Client</faultcode>")
        );
    }
}
