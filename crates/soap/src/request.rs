//! The SOAP request being served: its envelope, read by an extractor, and the version
//! that envelope announced, learned once so that errors render in it without every
//! handler passing the version along.
//!
//! A service's router wears [`scope`]; its SOAP handlers take an [`Envelope`], which
//! records the envelope's version for the rest of the request; its error type renders
//! through [`Fault::in_request_version`]. A request that carried no envelope (the HTTP
//! GET binding) is answered in SOAP 1.1, as the originals did.

use std::{cell::OnceCell, net::SocketAddr};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, FromRequest, Request},
    http::HeaderMap,
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{
    envelope::{self, SoapRequest, SoapVersion},
    fault::Fault,
    wsse,
    xml::Limits,
};

tokio::task_local! {
    // Task-local rather than a request extension: the error is rendered by
    // `IntoResponse`, which sees neither the request nor the handler's variables.
    static VERSION: OnceCell<SoapVersion>;
}

/// Middleware (`axum::middleware::from_fn(hub_soap::request::scope)`) giving each
/// request a place for its envelope's version; errors rendered outside it are SOAP 1.1.
pub async fn scope(request: Request, next: Next) -> Response {
    VERSION.scope(OnceCell::new(), next.run(request)).await
}

/// The version of the envelope this request carried, or `None` when it carried none
/// (or outside [`scope`]).
pub fn envelope_version() -> Option<SoapVersion> {
    VERSION.try_with(|v| v.get().copied()).ok().flatten()
}

/// The version to answer this request in: its envelope's, else SOAP 1.1.
pub fn version() -> SoapVersion {
    envelope_version().unwrap_or_default()
}

impl Fault {
    /// This fault in the version of the request being served (see [`version`]).
    pub fn in_request_version(self) -> Self {
        self.with_version(version())
    }
}

/// A request body read as a SOAP envelope: Content-Type checked (415 Fault, except for
/// a SOAP 1.1 envelope, accepted under any media type as the originals did), the XML
/// read within the default [`Limits`], the envelope checked ([`envelope::parse`]: every
/// refusal is a Fault, in the version the request announced). Records the envelope's
/// version for [`version`]. SOAPAction is logged, never used: dispatch is on the Body
/// child's QName. When the service installed a [`wsse::Guard`] (WS-Security on), the
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
        // Outside `scope` there is nowhere to record it: errors then answer in 1.1.
        let _ = VERSION.try_with(|v| v.set(parsed.version));
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
        middleware,
        routing::post,
    };
    use tower::ServiceExt as _;

    use super::*;

    async fn echo(Envelope(request): Envelope) -> Response {
        Fault::client(request.body.local)
            .in_request_version()
            .into_response()
    }

    async fn call(content_type: &str, body: &str) -> (StatusCode, String) {
        let app = Router::new()
            .route("/", post(echo))
            .layer(middleware::from_fn(scope));
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

    #[test]
    fn without_an_envelope_the_version_is_soap11() {
        assert_eq!(envelope_version(), None);
        assert_eq!(version(), SoapVersion::V11);
    }
}
