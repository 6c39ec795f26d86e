//! SOAP Faults, rendered in the version of the request.

use axum::{
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use hub_runtime::http::{ErrorRenderer, Failure};

use crate::{envelope::SoapVersion, xml::escape};

/// The fault codes used here. SOAP 1.2 names the last two Sender and Receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    /// The envelope namespace is not one we speak.
    VersionMismatch,
    /// A mandatory header block was not understood.
    MustUnderstand,
    /// The request is wrong (1.2: Sender).
    Client,
    /// We failed (1.2: Receiver).
    Server,
}

/// A qualified code refining a fault's code, such as WS-Security's
/// `wsse:FailedAuthentication`. SOAP 1.2 renders it as the `Subcode` of the code; SOAP
/// 1.1 has no subcodes, so it becomes the `faultcode` itself, as WS-Security specifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subcode {
    /// Its namespace, declared on the fault envelope.
    pub ns: &'static str,
    /// The prefix it is written with.
    pub prefix: &'static str,
    /// Its local name.
    pub local: &'static str,
}

/// A SOAP Fault.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The code.
    pub code: FaultCode,
    /// A qualified subcode (see [`Subcode`]); metrics and the HTTP status follow `code`.
    pub subcode: Option<Subcode>,
    /// The human-readable reason (a safe, fixed or validated text).
    pub reason: String,
    /// An XML fragment for `detail` (already escaped / serialised by the caller).
    pub detail: Option<String>,
    /// The SOAP version to answer in.
    pub version: SoapVersion,
    /// An HTTP status other than the protocol's default (the GET lookup's 400/404).
    pub status: Option<StatusCode>,
    /// The mandatory header blocks not understood, by `(namespace, local name)`: in SOAP
    /// 1.2 each becomes an `env:NotUnderstood` header block of the fault (Part 1
    /// §5.4.8); SOAP 1.1 has no such header, and its fault stays as it was. (A boxed
    /// slice: empty, it allocates nothing and keeps every `Result<_, Fault>` small.)
    pub not_understood: Box<[(Option<String>, String)]>,
}

impl Fault {
    /// A SOAP 1.1 fault; see [`Fault::with_version`].
    pub fn new(code: FaultCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            subcode: None,
            reason: reason.into(),
            detail: None,
            version: SoapVersion::V11,
            status: None,
            not_understood: Box::default(),
        }
    }

    /// A Client (Sender) fault.
    pub fn client(reason: impl Into<String>) -> Self {
        Self::new(FaultCode::Client, reason)
    }

    /// A Server (Receiver) fault.
    pub fn server(reason: impl Into<String>) -> Self {
        Self::new(FaultCode::Server, reason)
    }

    /// Answers in `version`.
    pub fn with_version(mut self, version: SoapVersion) -> Self {
        self.version = version;
        self
    }

    /// Adds a `detail` fragment (serialised XML).
    pub fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }

    /// Refines the code with `subcode` (see [`Subcode`]).
    pub fn with_subcode(mut self, subcode: Subcode) -> Self {
        self.subcode = Some(subcode);
        self
    }

    /// Names the header blocks not understood (see [`Fault::not_understood`]).
    pub fn with_not_understood(mut self, blocks: Vec<(Option<String>, String)>) -> Self {
        self.not_understood = blocks.into_boxed_slice();
        self
    }

    /// Uses `status` instead of the protocol default.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// The HTTP status: SOAP 1.1 uses 500 for every fault (WS-I BP R1126); SOAP 1.2
    /// uses 400 for Sender faults and 500 otherwise.
    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or(match (self.version, self.code) {
            (SoapVersion::V12, FaultCode::Client) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        })
    }

    /// The fault envelope.
    pub fn to_xml(&self) -> String {
        let reason = escape(&self.reason);
        let name = self.code.name(self.version);
        // A subcode's namespace is declared on the envelope. In 1.1 the subcode is the
        // faultcode; in 1.2 it is the code's Subcode.
        let xmlns = self
            .subcode
            .map(|s| format!(" xmlns:{}=\"{}\"", s.prefix, s.ns))
            .unwrap_or_default();
        // The detail element: `detail` in 1.1, `env:Detail` in 1.2.
        let detail = |element: &str| {
            self.detail
                .as_deref()
                .map(|d| format!("<{element}>{d}</{element}>"))
                .unwrap_or_default()
        };
        match self.version {
            SoapVersion::V11 => format!(
                concat!(
                    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                    r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"{xmlns}><soapenv:Body><soapenv:Fault>"#,
                    "<faultcode>{code}</faultcode><faultstring xml:lang=\"en\">{reason}</faultstring>{detail}",
                    "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
                ),
                xmlns = xmlns,
                code = match self.subcode {
                    Some(s) => format!("{}:{}", s.prefix, s.local),
                    None => format!("soapenv:{name}"),
                },
                reason = reason,
                detail = detail("detail")
            ),
            SoapVersion::V12 => format!(
                concat!(
                    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                    r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"{xmlns}>{header}<env:Body><env:Fault>"#,
                    "<env:Code><env:Value>env:{name}</env:Value>{subcode}</env:Code>",
                    "<env:Reason><env:Text xml:lang=\"en\">{reason}</env:Text></env:Reason>{detail}",
                    "</env:Fault></env:Body></env:Envelope>"
                ),
                xmlns = xmlns,
                header = self.not_understood_header(),
                name = name,
                subcode = self
                    .subcode
                    .map(|s| format!(
                        "<env:Subcode><env:Value>{}:{}</env:Value></env:Subcode>",
                        s.prefix, s.local
                    ))
                    .unwrap_or_default(),
                reason = reason,
                detail = detail("env:Detail")
            ),
        }
    }
}

impl Fault {
    /// SOAP 1.2's `env:Header` naming each block not understood, or nothing: one
    /// `<env:NotUnderstood qname="nu:local" xmlns:nu="namespace"/>` per block, its
    /// prefix declared on itself. An unqualified block's `qname` has no prefix (no
    /// default namespace is in scope); the two namespaces no other prefix may be bound
    /// to keep their own, predeclared prefixes.
    fn not_understood_header(&self) -> String {
        const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
        const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";
        if self.not_understood.is_empty() {
            return String::new();
        }
        let blocks: String = self
            .not_understood
            .iter()
            .map(|(ns, local)| {
                let local = escape(local);
                match ns.as_deref() {
                    None => format!(r#"<env:NotUnderstood qname="{local}"/>"#),
                    Some(XML_NS) => format!(r#"<env:NotUnderstood qname="xml:{local}"/>"#),
                    Some(XMLNS_NS) => format!(r#"<env:NotUnderstood qname="xmlns:{local}"/>"#),
                    Some(ns) => format!(
                        r#"<env:NotUnderstood qname="nu:{local}" xmlns:nu="{}"/>"#,
                        escape(ns)
                    ),
                }
            })
            .collect();
        format!("<env:Header>{blocks}</env:Header>")
    }
}

impl FaultCode {
    /// The code as the request's version names it, for metrics and logs.
    pub fn name(self, version: SoapVersion) -> &'static str {
        match (self, version) {
            (Self::VersionMismatch, _) => "VersionMismatch",
            (Self::MustUnderstand, _) => "MustUnderstand",
            (Self::Client, SoapVersion::V11) => "Client",
            (Self::Client, SoapVersion::V12) => "Sender",
            (Self::Server, SoapVersion::V11) => "Server",
            (Self::Server, SoapVersion::V12) => "Receiver",
        }
    }
}

/// HELP text of `soap_faults_total`, registered by each fault answered (once is kept).
fn describe_metrics() {
    metrics::describe_counter!(
        "soap_faults_total",
        "SOAP Faults answered, by code as sent (Client/Sender: the caller's mistake; Server/Receiver: ours; VersionMismatch; MustUnderstand)."
    );
}

impl IntoResponse for Fault {
    /// Also counts the fault in `soap_faults_total{code}`: a SOAP 1.1 Client fault is an
    /// HTTP 500 like a Server fault, and only the code tells an operator whose mistake
    /// it was. (Nothing is logged here: a client's mistake is not a server error, and a
    /// server error was logged where it happened, see [`ServerError`].)
    fn into_response(self) -> Response {
        hub_metrics::describe(describe_metrics);
        metrics::counter!("soap_faults_total", "code" => self.code.name(self.version)).increment(1);
        (
            self.status(),
            [(header::CONTENT_TYPE, self.version.content_type())],
            self.to_xml(),
        )
            .into_response()
    }
}

/// A failure on the server's side, classified in this one place for every SOAP
/// service: a backing server down or saturated is a 503 Server fault, anything else a
/// 500 one. The cause is logged when the fault is made, never sent.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A backing server (database, hashing pool, ...) is unavailable; retry later.
    #[error("Service temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or an unexpected failure.
    #[error("Internal server error")]
    Internal(#[source] anyhow::Error),
}

impl ServerError {
    /// `Unavailable` when `unavailable` (the backing client's own classification of
    /// `cause`, e.g. `hub_db::is_unavailable`), else `Internal`.
    pub fn new(unavailable: bool, cause: impl Into<anyhow::Error>) -> Self {
        Failure::new(unavailable, cause).into()
    }
}

/// The same classification as the REST services' (a use case's failure, made once).
impl From<Failure> for ServerError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Unavailable(cause) => Self::Unavailable(cause),
            Failure::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<ServerError> for Fault {
    fn from(e: ServerError) -> Self {
        match &e {
            ServerError::Unavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "backing service unavailable");
                Fault::server(e.to_string()).with_status(StatusCode::SERVICE_UNAVAILABLE)
            }
            ServerError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                Fault::server(e.to_string())
            }
        }
    }
}

/// Renders every framework-made error (404, 405, 413, 415, timeout, panic) as a Fault
/// in the version the request's Content-Type announces, keeping the HTTP status.
pub fn renderer() -> ErrorRenderer {
    std::sync::Arc::new(
        |request_headers: &HeaderMap, status: StatusCode, message: &str| {
            let code = if status.is_client_error() {
                FaultCode::Client
            } else {
                FaultCode::Server
            };
            Fault::new(code, message)
                .with_version(SoapVersion::from_headers(request_headers))
                .with_status(status)
                .into_response()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soap11_faults_are_500_with_unqualified_children() {
        let f = Fault::client("bad <input>").with_detail("<d:X xmlns:d=\"urn:d\"/>".into());
        assert_eq!(f.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let xml = f.to_xml();
        assert!(
            xml.contains("<faultcode>soapenv:Client</faultcode>"),
            "{xml}"
        );
        assert!(
            xml.contains("<faultstring xml:lang=\"en\">bad &lt;input&gt;</faultstring>"),
            "{xml}"
        );
        assert!(
            xml.contains("<detail><d:X xmlns:d=\"urn:d\"/></detail>"),
            "{xml}"
        );
    }

    #[test]
    fn server_errors_keep_their_status_and_never_their_cause() {
        let down = Fault::from(ServerError::new(true, anyhow::anyhow!("pool timed out")));
        assert_eq!(
            (down.code, down.reason.as_str(), down.status()),
            (
                FaultCode::Server,
                "Service temporarily unavailable",
                StatusCode::SERVICE_UNAVAILABLE
            )
        );
        let bug = Fault::from(ServerError::new(false, anyhow::anyhow!("no rows returned")));
        assert_eq!(
            (bug.reason.as_str(), bug.status()),
            ("Internal server error", StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert!(bug.detail.is_none());
    }

    #[test]
    fn soap12_must_understand_faults_name_each_block_in_a_not_understood_header() {
        let blocks = vec![
            (Some("urn:a\"<&".to_owned()), "One".to_owned()),
            (
                Some("http://www.w3.org/XML/1998/namespace".to_owned()),
                "lang".to_owned(),
            ),
            (None, "Bare".to_owned()),
        ];
        let f = Fault::new(
            FaultCode::MustUnderstand,
            "Header block {urn:a}One is not understood",
        )
        .with_not_understood(blocks);
        let v12 = f.clone().with_version(SoapVersion::V12).to_xml();
        assert!(
            v12.contains(concat!(
                r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Header>"#,
                r#"<env:NotUnderstood qname="nu:One" xmlns:nu="urn:a&quot;&lt;&amp;"/>"#,
                r#"<env:NotUnderstood qname="xml:lang"/>"#,
                r#"<env:NotUnderstood qname="Bare"/>"#,
                "</env:Header><env:Body><env:Fault><env:Code><env:Value>env:MustUnderstand</env:Value></env:Code>"
            )),
            "{v12}"
        );
        // SOAP 1.1 has no such header: the fault is as it always was.
        assert_eq!(
            f.to_xml(),
            Fault::new(
                FaultCode::MustUnderstand,
                "Header block {urn:a}One is not understood"
            )
            .to_xml()
        );
        assert!(!f.to_xml().contains("NotUnderstood"));
    }

    #[test]
    fn soap12_sender_faults_are_400_and_receiver_500() {
        let f = Fault::client("x").with_version(SoapVersion::V12);
        assert_eq!(f.status(), StatusCode::BAD_REQUEST);
        assert!(f.to_xml().contains("<env:Value>env:Sender</env:Value>"));
        assert_eq!(
            Fault::server("x").with_version(SoapVersion::V12).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
