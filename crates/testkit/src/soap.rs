//! Reading SOAP replies the way a namespace-aware client does, where a test must
//! resolve what a reply says rather than match its text.

use quick_xml::{
    NsReader, XmlVersion,
    events::Event,
    name::{QName, ResolveResult},
};

/// The SOAP 1.2 envelope namespace.
const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// The WS-Security extension namespace (`wsse`).
const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";

/// Asserts that a reply (`(status, content type, body)`, as [`crate::parts`] gives it) is
/// the WS-Security fault `code` (`FailedAuthentication`, `InvalidSecurity`, ...) in SOAP
/// 1.2 (`soap12`: HTTP 400, `env:Sender` with the subcode `wsse:{code}`) or 1.1 (HTTP
/// 500, `faultcode` `wsse:{code}`), its `wsse` prefix declared.
#[track_caller]
pub fn assert_wsse_fault(soap12: bool, (status, _, body): &(u16, String, String), code: &str) {
    assert!(
        body.contains(&format!(r#"xmlns:wsse="{WSSE_NS}""#)),
        "{body}"
    );
    if soap12 {
        assert_eq!(*status, 400, "{body}");
        assert!(
            body.contains(&format!(
                "<env:Value>env:Sender</env:Value><env:Subcode><env:Value>wsse:{code}</env:Value></env:Subcode>"
            )),
            "{body}"
        );
    } else {
        assert_eq!(*status, 500, "{body}");
        assert!(
            body.contains(&format!("<faultcode>wsse:{code}</faultcode>")),
            "{body}"
        );
    }
}

/// The header blocks a SOAP 1.2 fault says were not understood: for each
/// `env:NotUnderstood` element of the envelope's `env:Header` (SOAP 1.2 Part 1 §5.4.8), its
/// `qname` attribute resolved against the namespaces in scope on that element, as
/// `{namespace}local` (`{}local` when unqualified), in document order. Panics on XML
/// that is not well-formed, on a `NotUnderstood` without `qname` and on a `qname` whose
/// prefix is not declared: each is a broken reply.
pub fn not_understood(xml: &str) -> Vec<String> {
    let mut reader = NsReader::from_str(xml);
    let mut path: Vec<(bool, String)> = Vec::new();
    let mut found = Vec::new();
    loop {
        let (ns, event) = reader.read_resolved_event().expect("well-formed XML");
        let in_soap12 = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == SOAP12_NS);
        let (start, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                path.pop();
                continue;
            }
            Event::Eof => return found,
            _ => continue,
        };
        let local = start.local_name().as_ref().to_owned();
        let under_header = matches!(
            path.as_slice(),
            [(true, envelope), (true, header)] if envelope == "Envelope" && header == "Header"
        );
        if under_header && in_soap12 && local == "NotUnderstood" {
            let qname = start
                .try_get_attribute("qname")
                .expect("well-formed attributes")
                .expect("NotUnderstood has a qname")
                .normalized_value(XmlVersion::Implicit1_0)
                .expect("a qname in text")
                .into_owned();
            let (resolved, local) = reader.resolver().resolve_element(QName(&qname));
            let ns = match resolved {
                ResolveResult::Bound(ns) => ns.as_ref().to_owned(),
                ResolveResult::Unbound => String::new(),
                ResolveResult::Unknown(p) => {
                    panic!("qname {qname:?}: prefix {p:?} undeclared")
                }
            };
            found.push(format!("{{{ns}}}{}", local.as_ref()));
        }
        if !empty {
            path.push((in_soap12, local));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qnames_resolve_against_the_declarations_in_scope() {
        let xml = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:a="urn:outer"><env:Header><env:NotUnderstood qname="a:One"/><env:NotUnderstood qname="b:Two" xmlns:b="urn:b"></env:NotUnderstood><x:NotUnderstood xmlns:x="urn:other" qname="a:No"/></env:Header><env:Body><env:NotUnderstood qname="a:Nor"/></env:Body></env:Envelope>"#;
        assert_eq!(not_understood(xml), ["{urn:outer}One", "{urn:b}Two"]);
    }
}
