//! WS-Addressing, as a .NET (WCF) client with a SOAP 1.2 binding sends it: the
//! `Action`, `To`, `MessageID`, `ReplyTo` (and `FaultTo`, `From`, `RelatesTo`) header
//! blocks, often `mustUnderstand`, in WS-Addressing 1.0 (`http://www.w3.org/2005/08/addressing`)
//! or the 2004/08 submission namespace WCF still emits.
//!
//! Both namespaces are understood by [`crate::envelope::parse_understanding`], so such
//! a mandatory block is no MustUnderstand fault; the request's properties are read
//! once there ([`Addressing::read`], into [`SoapRequest::addressing`](crate::SoapRequest)):
//! an `Action` must be present (and agree with a non-empty `SOAPAction`), and a reply
//! can only go back on the HTTP connection (`ReplyTo`/`FaultTo` anonymous). The service
//! checks `Action` against the operation the Body names ([`Addressing::check_action`]:
//! the standard `ActionNotSupported` fault) and gives its answer the reply's
//! properties ([`Addressing::answer`]: `Action`, `RelatesTo` the request's `MessageID`,
//! and, in 2004/08 where it is required, `To` anonymous). A request without a WS-Addressing
//! block has no [`Addressing`], and its answer is left byte for byte as it was.

use axum::{
    body::Body,
    http::{StatusCode, header},
    response::{IntoResponse as _, Response},
};

use crate::{
    envelope::SoapVersion,
    fault::{Fault, Subcode},
    request::{InVersion, SoapError},
    xml::{Element, escape},
};

/// For a handler, before it does anything: when the request carried WS-Addressing and
/// its `Action` is not `expected` (the operation's), the `ActionNotSupported` fault with
/// the reply's header blocks; else `None`.
pub async fn refuse_action(addressing: Option<&Addressing>, expected: &str) -> Option<Response> {
    let wsa = addressing?;
    let fault = wsa.check_action(expected).err()?;
    Some(
        wsa.answer(wsa.wsa.fault_action(), fault.into_response())
            .await,
    )
}

/// A handler's outcome as its response: unchanged when the request carried no
/// WS-Addressing; else with the reply's header blocks, whose `Action` is `reply_action`
/// for a success, and for an error what `fault_action` says (the WSDL's action of its
/// fault, or the operation's output for a non-fault reply such as the legacy 409), by
/// default the generic fault action ([`Wsa::fault_action`]).
pub async fn answer<E: SoapError>(
    addressing: Option<&Addressing>,
    result: Result<Response, InVersion<E>>,
    reply_action: &str,
    fault_action: impl FnOnce(&E) -> Option<&'static str>,
) -> Response {
    let Some(wsa) = addressing else {
        return result.into_response();
    };
    let action = match &result {
        Ok(_) => reply_action,
        Err(e) => fault_action(e.error()).unwrap_or(wsa.wsa.fault_action()),
    };
    wsa.answer(action, result.into_response()).await
}

/// The WS-Addressing 1.0 namespace.
pub const WSA10_NS: &str = "http://www.w3.org/2005/08/addressing";
/// The 2004/08 member submission's namespace (WCF's `WSAddressingAugust2004`).
pub const WSA04_NS: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";

/// The addressing header blocks, by local name, in either namespace.
const BLOCKS: [&str; 7] = [
    "To",
    "Action",
    "MessageID",
    "ReplyTo",
    "FaultTo",
    "From",
    "RelatesTo",
];

/// The header blocks understood: every addressing block in both namespaces.
pub const UNDERSTOOD: &[(&str, &str)] = &[
    (WSA10_NS, BLOCKS[0]),
    (WSA10_NS, BLOCKS[1]),
    (WSA10_NS, BLOCKS[2]),
    (WSA10_NS, BLOCKS[3]),
    (WSA10_NS, BLOCKS[4]),
    (WSA10_NS, BLOCKS[5]),
    (WSA10_NS, BLOCKS[6]),
    (WSA04_NS, BLOCKS[0]),
    (WSA04_NS, BLOCKS[1]),
    (WSA04_NS, BLOCKS[2]),
    (WSA04_NS, BLOCKS[3]),
    (WSA04_NS, BLOCKS[4]),
    (WSA04_NS, BLOCKS[5]),
    (WSA04_NS, BLOCKS[6]),
];

/// Which WS-Addressing the request spoke; the reply speaks the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wsa {
    /// WS-Addressing 1.0 (W3C).
    V10,
    /// The 2004/08 member submission.
    V200408,
}

impl Wsa {
    /// The namespace.
    pub fn ns(self) -> &'static str {
        match self {
            Self::V10 => WSA10_NS,
            Self::V200408 => WSA04_NS,
        }
    }

    /// The anonymous address: "reply on the HTTP response".
    pub fn anonymous(self) -> &'static str {
        match self {
            Self::V10 => "http://www.w3.org/2005/08/addressing/anonymous",
            Self::V200408 => "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous",
        }
    }

    /// The `Action` of a fault the WSDL does not declare (and of the addressing faults).
    pub fn fault_action(self) -> &'static str {
        match self {
            Self::V10 => "http://www.w3.org/2005/08/addressing/soap/fault",
            Self::V200408 => "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault",
        }
    }

    fn subcode(self, local: &'static str) -> Subcode {
        Subcode {
            ns: self.ns(),
            prefix: "wsa",
            local,
        }
    }

    /// A request whose addressing properties are missing or wrong: Sender, with the
    /// namespace's subcode (1.0 and 2004/08 name them differently).
    fn invalid(self, reason: &str) -> Fault {
        Fault::client(reason).with_subcode(self.subcode(match self {
            Self::V10 => "InvalidAddressingHeader",
            Self::V200408 => "InvalidMessageInformationHeader",
        }))
    }
}

/// The request's addressing properties, when it carried any WS-Addressing block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressing {
    /// The namespace it spoke.
    pub wsa: Wsa,
    /// `Action`.
    pub action: String,
    /// `MessageID`, which the reply's `RelatesTo` names.
    pub message_id: Option<String>,
    /// The envelope's version, which every answer keeps.
    pub version: SoapVersion,
}

impl Addressing {
    /// The request's addressing properties: `None` without any WS-Addressing header block
    /// (in either namespace); a Sender fault when `Action` is missing or repeated, differs
    /// from a non-empty `soap_action` (SOAP 1.1 `SOAPAction` or 1.2's `action`
    /// parameter), or when a reply or fault is to go anywhere but back on the response.
    pub fn read(
        version: SoapVersion,
        blocks: &[Element],
        soap_action: Option<&str>,
    ) -> Result<Option<Self>, Fault> {
        let Some(wsa) = blocks.iter().find_map(|b| {
            [Wsa::V10, Wsa::V200408]
                .into_iter()
                .find(|w| b.ns.as_deref() == Some(w.ns()))
        }) else {
            return Ok(None);
        };
        let fault = |f: Fault| f.with_version(version);
        let named = |local: &str| -> Vec<&Element> {
            blocks.iter().filter(|b| b.is(wsa.ns(), local)).collect()
        };
        let action = match named("Action").as_slice() {
            [one] => one.text.trim().to_owned(),
            [] => {
                let local = match wsa {
                    Wsa::V10 => "MessageAddressingHeaderRequired",
                    Wsa::V200408 => "MessageInformationHeaderRequired",
                };
                return Err(fault(
                    Fault::client("A required header representing a Message Addressing Property is not present: Action")
                        .with_subcode(wsa.subcode(local)),
                ));
            }
            _ => return Err(fault(wsa.invalid("Action appears more than once"))),
        };
        if action.is_empty() {
            return Err(fault(wsa.invalid("Action must not be empty")));
        }
        if let Some(soap_action) = soap_action.filter(|a| !a.is_empty())
            && soap_action != action
        {
            return Err(fault(
                wsa.invalid("SOAPAction and the WS-Addressing Action differ"),
            ));
        }
        let message_id = match named("MessageID").as_slice() {
            [] => None,
            [one] => Some(one.text.trim().to_owned()),
            _ => return Err(fault(wsa.invalid("MessageID appears more than once"))),
        };
        // Replies go back on the HTTP response only: ReplyTo and FaultTo, when given,
        // must say so (1.0 also allows `none`: no reply is wanted, one is sent anyway).
        for endpoint in ["ReplyTo", "FaultTo"] {
            for block in named(endpoint) {
                let address = block
                    .children_named(wsa.ns(), "Address")
                    .next()
                    .map(|a| a.text.trim());
                let anonymous = match address {
                    Some(a) => {
                        a == wsa.anonymous()
                            || (wsa == Wsa::V10 && a == "http://www.w3.org/2005/08/addressing/none")
                    }
                    None => false,
                };
                if !anonymous {
                    let mut refusal = wsa.invalid(&format!(
                        "Only the anonymous address is supported for {endpoint}"
                    ));
                    if wsa == Wsa::V10 {
                        refusal =
                            refusal.with_subcode(wsa.subcode("OnlyAnonymousAddressSupported"));
                    }
                    return Err(fault(refusal));
                }
            }
        }
        Ok(Some(Self {
            wsa,
            action,
            message_id,
            version,
        }))
    }

    /// `Ok` when the request's `Action` is `expected`, the operation's (the WSDL's
    /// `wsaw:Action`, its `soapAction`); else the WS-Addressing SOAP binding's
    /// `ActionNotSupported` fault (Sender), naming the action, in the request's version.
    pub fn check_action(&self, expected: &str) -> Result<(), Fault> {
        if self.action == expected {
            return Ok(());
        }
        let detail = format!(
            "<wsa:ProblemAction xmlns:wsa=\"{ns}\"><wsa:Action>{action}</wsa:Action></wsa:ProblemAction>",
            ns = self.wsa.ns(),
            action = escape(&self.action)
        );
        let fault = Fault::client(format!(
            "The [action] cannot be processed at the receiver: {}",
            self.action
        ))
        .with_subcode(self.wsa.subcode("ActionNotSupported"))
        .with_version(self.version);
        // SOAP 1.2 carries the problem action in the fault's Detail; SOAP 1.1's detail is
        // for the Body's own faults, and WS-Addressing 1.0 moves it to a FaultDetail
        // header block (added by `answer`).
        Err(match self.version {
            SoapVersion::V12 => fault.with_detail(detail),
            SoapVersion::V11 => fault,
        })
    }

    /// The reply's header blocks: `Action` (`action`), `RelatesTo` (the request's
    /// `MessageID`, if it had one) and, in 2004/08 where every message names it, `To`
    /// anonymous (1.0 leaves the anonymous `To` out).
    pub fn reply_blocks(&self, action: &str) -> String {
        let ns = self.wsa.ns();
        let mut blocks = format!(
            "<wsa:Action xmlns:wsa=\"{ns}\">{}</wsa:Action>",
            escape(action)
        );
        if let Some(id) = &self.message_id {
            blocks.push_str(&format!(
                "<wsa:RelatesTo xmlns:wsa=\"{ns}\">{}</wsa:RelatesTo>",
                escape(id)
            ));
        }
        if self.wsa == Wsa::V200408 {
            blocks.push_str(&format!(
                "<wsa:To xmlns:wsa=\"{ns}\">{}</wsa:To>",
                self.wsa.anonymous()
            ));
        }
        blocks
    }

    /// `response` (an envelope this service wrote: a reply or a Fault) with the reply's
    /// header blocks ([`Addressing::reply_blocks`]), `action` being the reply's `Action`
    /// (the operation's output, or a fault's; [`Wsa::fault_action`] for a fault the WSDL
    /// does not declare). Headers are kept, and the status, except that a SOAP 1.2
    /// Sender fault goes out with HTTP 500 rather than 400: this is what a WCF service
    /// sends and a WCF client reads (Mono's refuses any 4xx answer as a transport error
    /// before looking at the fault), and only a request with WS-Addressing gets it.
    pub async fn answer(&self, action: &str, response: Response) -> Response {
        let (mut parts, body) = response.into_parts();
        if parts.status == StatusCode::BAD_REQUEST {
            parts.status = StatusCode::INTERNAL_SERVER_ERROR;
        }
        let bytes = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::error!(error = %e, "reading our own reply");
                return Fault::server("Internal server error")
                    .with_version(self.version)
                    .into_response();
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let mut blocks = self.reply_blocks(action);
        if let Some(problem) = problem_action(&text) {
            // SOAP 1.1's ActionNotSupported: the problem action as a header block.
            blocks.push_str(&format!(
                "<wsa:FaultDetail xmlns:wsa=\"{ns}\"><wsa:ProblemAction><wsa:Action>{problem}</wsa:Action></wsa:ProblemAction></wsa:FaultDetail>",
                ns = self.wsa.ns()
            ));
        }
        let Some(with_headers) = insert_header_blocks(&text, &blocks) else {
            return Response::from_parts(parts, Body::from(bytes));
        };
        parts.headers.remove(header::CONTENT_LENGTH);
        Response::from_parts(parts, Body::from(with_headers))
    }
}

/// The escaped action of a SOAP 1.1 ActionNotSupported fault made by
/// [`Addressing::check_action`], read back from its reason.
fn problem_action(envelope: &str) -> Option<&str> {
    const MARK: &str = "The [action] cannot be processed at the receiver: ";
    if !envelope.contains(":ActionNotSupported</faultcode>") {
        return None;
    }
    let start = envelope.find(MARK)? + MARK.len();
    let end = start + envelope[start..].find("</faultstring>")?;
    Some(&envelope[start..end])
}

/// `envelope` (one this crate's services wrote) with `blocks` added to its Header: into
/// an empty `<p:Header/>`, at the start of a `<p:Header>`, or as a new Header before the
/// `<p:Body`, `p` being the Envelope's prefix. `None` when there is no such Envelope.
pub fn insert_header_blocks(envelope: &str, blocks: &str) -> Option<String> {
    let at = envelope.find(":Envelope")?;
    let lt = envelope[..at].rfind('<')?;
    let prefix = &envelope[lt + 1..at];
    if prefix.is_empty() || prefix.contains(|c: char| c.is_whitespace() || c == '>') {
        return None;
    }
    let empty = format!("<{prefix}:Header/>");
    if let Some(i) = envelope.find(&empty) {
        return Some(format!(
            "{}<{prefix}:Header>{blocks}</{prefix}:Header>{}",
            &envelope[..i],
            &envelope[i + empty.len()..]
        ));
    }
    let open = format!("<{prefix}:Header>");
    if let Some(i) = envelope.find(&open) {
        let after = i + open.len();
        return Some(format!(
            "{}{blocks}{}",
            &envelope[..after],
            &envelope[after..]
        ));
    }
    let body = envelope.find(&format!("<{prefix}:Body"))?;
    Some(format!(
        "{}<{prefix}:Header>{blocks}</{prefix}:Header>{}",
        &envelope[..body],
        &envelope[body..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limits, parse};

    fn header(xml: &str) -> Vec<Element> {
        parse(
            &format!(
                r#"<h xmlns:a="{WSA10_NS}" xmlns:b="{WSA04_NS}" xmlns:s="http://www.w3.org/2003/05/soap-envelope">{xml}</h>"#
            ),
            &Limits::default(),
        )
        .unwrap()
        .children
    }

    const WCF: &str = r#"<a:Action s:mustUnderstand="1">urn:op</a:Action><a:MessageID>urn:uuid:1</a:MessageID><a:ReplyTo><a:Address>http://www.w3.org/2005/08/addressing/anonymous</a:Address></a:ReplyTo><a:To s:mustUnderstand="1">http://h/x</a:To>"#;

    #[test]
    fn wcf_headers_are_read() {
        let wsa = Addressing::read(SoapVersion::V12, &header(WCF), Some("urn:op"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (wsa.wsa, wsa.action.as_str(), wsa.message_id.as_deref()),
            (Wsa::V10, "urn:op", Some("urn:uuid:1"))
        );
        assert!(wsa.check_action("urn:op").is_ok());
        assert!(matches!(
            Addressing::read(SoapVersion::V12, &[], None),
            Ok(None)
        ));
    }

    #[test]
    fn missing_or_inconsistent_properties_are_sender_faults() {
        let v = SoapVersion::V11;
        let f = Addressing::read(v, &header("<b:MessageID>x</b:MessageID>"), None).unwrap_err();
        assert_eq!(f.subcode.unwrap().local, "MessageInformationHeaderRequired");
        assert_eq!(f.subcode.unwrap().ns, WSA04_NS);
        let f = Addressing::read(v, &header(WCF), Some("urn:other")).unwrap_err();
        assert_eq!(f.subcode.unwrap().local, "InvalidAddressingHeader");
        let elsewhere = WCF.replace(
            "http://www.w3.org/2005/08/addressing/anonymous",
            "http://client/callback",
        );
        let f = Addressing::read(v, &header(&elsewhere), None).unwrap_err();
        assert_eq!(f.subcode.unwrap().local, "OnlyAnonymousAddressSupported");
    }

    #[test]
    fn a_wrong_action_is_action_not_supported_in_the_request_version() {
        let wsa = Addressing::read(SoapVersion::V12, &header(WCF), None)
            .unwrap()
            .unwrap();
        let f = wsa.check_action("urn:expected").unwrap_err();
        assert_eq!(f.status(), StatusCode::BAD_REQUEST);
        let xml = f.to_xml();
        assert!(
            xml.contains(
                "<env:Subcode><env:Value>wsa:ActionNotSupported</env:Value></env:Subcode>"
            ),
            "{xml}"
        );
        assert!(xml.contains("<wsa:ProblemAction xmlns:wsa=\"http://www.w3.org/2005/08/addressing\"><wsa:Action>urn:op</wsa:Action>"), "{xml}");
    }

    #[tokio::test]
    async fn answers_get_the_reply_blocks_in_their_header() {
        let wsa = Addressing::read(SoapVersion::V11, &header(WCF), None)
            .unwrap()
            .unwrap();
        let f = wsa.check_action("urn:expected").unwrap_err();
        let answered = wsa.answer(wsa.wsa.fault_action(), f.into_response()).await;
        assert_eq!(answered.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(answered.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains(concat!(
            r#"<soapenv:Header><wsa:Action xmlns:wsa="http://www.w3.org/2005/08/addressing">http://www.w3.org/2005/08/addressing/soap/fault</wsa:Action>"#,
            r#"<wsa:RelatesTo xmlns:wsa="http://www.w3.org/2005/08/addressing">urn:uuid:1</wsa:RelatesTo>"#,
            r#"<wsa:FaultDetail xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:ProblemAction><wsa:Action>urn:op</wsa:Action></wsa:ProblemAction></wsa:FaultDetail>"#,
            "</soapenv:Header><soapenv:Body><soapenv:Fault><faultcode>wsa:ActionNotSupported</faultcode>"
        )), "{body}");
    }

    #[test]
    fn header_blocks_go_into_every_shape_of_header() {
        assert_eq!(
            insert_header_blocks(
                "<e:Envelope x='1'>\n <e:Header/>\n <e:Body/></e:Envelope>",
                "<b/>"
            )
            .as_deref(),
            Some("<e:Envelope x='1'>\n <e:Header><b/></e:Header>\n <e:Body/></e:Envelope>")
        );
        assert_eq!(
            insert_header_blocks("<?xml version=\"1.0\"?><e:Envelope><e:Header><n/></e:Header><e:Body/></e:Envelope>", "<b/>").as_deref(),
            Some("<?xml version=\"1.0\"?><e:Envelope><e:Header><b/><n/></e:Header><e:Body/></e:Envelope>")
        );
        assert_eq!(
            insert_header_blocks("<e:Envelope><e:Body><x/></e:Body></e:Envelope>", "<b/>")
                .as_deref(),
            Some("<e:Envelope><e:Header><b/></e:Header><e:Body><x/></e:Body></e:Envelope>")
        );
        assert_eq!(insert_header_blocks("<x/>", "<b/>"), None);
    }
}
