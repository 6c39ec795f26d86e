//! SOAP 1.1 and 1.2 envelopes: version, headers, the one Body child.

use axum::{
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{
    addressing::{self, Addressing},
    fault::{Fault, FaultCode},
    xml::{self, Element, Limits},
};

/// The SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The SOAP 1.2 envelope namespace.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";

/// A SOAP version; every answer uses the version of its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SoapVersion {
    /// SOAP 1.1 (`text/xml`).
    #[default]
    V11,
    /// SOAP 1.2 (`application/soap+xml`).
    V12,
}

impl SoapVersion {
    /// The envelope namespace.
    pub fn ns(self) -> &'static str {
        match self {
            Self::V11 => SOAP11_NS,
            Self::V12 => SOAP12_NS,
        }
    }

    /// The response Content-Type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::V11 => "text/xml; charset=utf-8",
            Self::V12 => "application/soap+xml; charset=utf-8",
        }
    }

    /// A reply envelope in this version: `status`, this version's Content-Type, `body`.
    /// XML, so the shared error layer passes a non-2xx reply (a 409) as it is.
    pub fn reply(self, status: StatusCode, body: String) -> Response {
        (status, [(header::CONTENT_TYPE, self.content_type())], body).into_response()
    }

    /// The version a request's Content-Type announces (`application/soap+xml` is 1.2,
    /// anything else 1.1), used before the envelope is read (e.g. for a 413).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        match media_type(headers) {
            Some(m) if m == "application/soap+xml" => Self::V12,
            _ => Self::V11,
        }
    }
}

/// The request's media type, lower-cased, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Checks the request's Content-Type: SOAP 1.1 (`text/xml`), SOAP 1.2
/// (`application/soap+xml`), `application/xml`, or none (legacy clients that post raw
/// XML). Anything else is a 415 Fault.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), Fault> {
    match media_type(headers).as_deref() {
        None | Some("text/xml" | "application/soap+xml" | "application/xml") => Ok(()),
        Some(_) => Err(Fault::new(
            FaultCode::Client,
            "Content-Type must be text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)",
        )
        .with_version(SoapVersion::from_headers(headers))
        .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)),
    }
}

/// The action the client named: SOAP 1.1 `SOAPAction` header (quoted or not, any
/// case) or the SOAP 1.2 `action` media-type parameter. A hint only: dispatch is on
/// the Body child's QName.
pub fn action(headers: &HeaderMap) -> Option<String> {
    let unquote = |s: &str| s.trim().trim_matches('"').to_owned();
    if let Some(v) = headers.get("soapaction").and_then(|v| v.to_str().ok()) {
        return Some(unquote(v)).filter(|s| !s.is_empty());
    }
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    ct.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("action").then(|| unquote(v))
    })
}

/// A parsed request.
#[derive(Debug, Clone)]
pub struct SoapRequest {
    /// The version of the envelope.
    pub version: SoapVersion,
    /// Header blocks (children of Header).
    pub headers: Vec<Element>,
    /// The single child of Body: the operation's wrapper element.
    pub body: Element,
    /// Its WS-Addressing properties, when it carried any (see [`crate::addressing`]).
    pub addressing: Option<Addressing>,
}

/// Reads and checks a SOAP request body. Every refusal is a Fault in the right version.
/// Only the WS-Addressing header blocks are understood ([`crate::addressing`]): any
/// other mandatory one addressed to us is a MustUnderstand fault.
pub fn parse(body: &[u8], headers: &HeaderMap, limits: &Limits) -> Result<SoapRequest, Fault> {
    parse_understanding(body, headers, limits, &[])
}

/// [`parse`], understanding the header blocks named `(namespace, local name)` in
/// `understood` (WS-Security's `Security` when it is switched on), besides the
/// WS-Addressing ones: a mandatory one is left to the caller, which must then process it.
pub fn parse_understanding(
    body: &[u8],
    headers: &HeaderMap,
    limits: &Limits,
    understood: &[(&str, &str)],
) -> Result<SoapRequest, Fault> {
    let announced = SoapVersion::from_headers(headers);
    let client = |msg: &str| Fault::new(FaultCode::Client, msg).with_version(announced);
    let text = xml::decode(body).map_err(|e| client(e.message()))?;
    let root = xml::parse(&text, limits).map_err(|e| client(e.message()))?;

    let version = if root.is(SOAP11_NS, "Envelope") {
        SoapVersion::V11
    } else if root.is(SOAP12_NS, "Envelope") {
        SoapVersion::V12
    } else if root.local == "Envelope" {
        // Any other namespace: the SOAP VersionMismatch fault, in 1.1 (the version we
        // cannot rule out the caller speaks).
        return Err(Fault::new(
            FaultCode::VersionMismatch,
            "Unsupported envelope namespace: use SOAP 1.1 or SOAP 1.2",
        ));
    } else {
        return Err(client("The document element must be a SOAP Envelope"));
    };
    let ns = version.ns();
    let client = |msg: &str| Fault::new(FaultCode::Client, msg).with_version(version);

    let mut children = root.children.into_iter();
    let mut first = children.next();
    let mut header_blocks = Vec::new();
    if let Some(h) = first.take_if(|e| e.is(ns, "Header")) {
        header_blocks = h.children;
        first = children.next();
    }
    let body_el = first
        .filter(|e| e.is(ns, "Body"))
        .ok_or_else(|| client("The envelope must contain a Body"))?;
    if children.next().is_some() {
        return Err(client("Nothing may follow the Body in the envelope"));
    }

    // Every mandatory block we do not understand: the reason names the first (as it
    // always has), a SOAP 1.2 fault's NotUnderstood header blocks name each.
    let not_understood: Vec<&Element> = header_blocks
        .iter()
        .filter(|block| {
            let known = understood
                .iter()
                .chain(addressing::UNDERSTOOD)
                .any(|(ns, local)| block.is(ns, local));
            !known && must_understand(block, version)
        })
        .collect();
    if let [first, ..] = not_understood.as_slice() {
        return Err(Fault::new(
            FaultCode::MustUnderstand,
            format!("Header block {} is not understood", first.qname()),
        )
        .with_version(version)
        .with_not_understood(
            not_understood
                .iter()
                .map(|b| (b.ns.clone(), b.local.clone()))
                .collect(),
        ));
    }

    let mut body_children = body_el.children.into_iter();
    let op = body_children
        .next()
        .ok_or_else(|| client("The Body must contain exactly one element"))?;
    if body_children.next().is_some() {
        return Err(client("The Body must contain exactly one element"));
    }
    if op.ns.is_none() {
        return Err(client("The Body element must be namespace-qualified"));
    }
    let addressing = Addressing::read(version, &header_blocks, action(headers).as_deref())?;
    Ok(SoapRequest {
        version,
        headers: header_blocks,
        body: op,
        addressing,
    })
}

/// A header block we must process but cannot: `mustUnderstand` true and addressed to
/// us. Only the blocks a caller of [`parse_understanding`] names are understood, so any
/// other such block is refused before the Body is looked at.
fn must_understand(block: &Element, version: SoapVersion) -> bool {
    let ns = version.ns();
    let flag = block.attr(Some(ns), "mustUnderstand").map(str::trim);
    let mandatory = match version {
        SoapVersion::V11 => flag == Some("1"),
        SoapVersion::V12 => matches!(flag, Some("1" | "true")),
    };
    mandatory && addressed_to_us(block, version)
}

/// Whether a header block is for us, the ultimate receiver: no actor (1.1) or role
/// (1.2), or the next node, or (1.2) the ultimate receiver named explicitly.
pub fn addressed_to_us(block: &Element, version: SoapVersion) -> bool {
    let ns = version.ns();
    match version {
        SoapVersion::V11 => match block.attr(Some(ns), "actor") {
            None => true,
            Some(a) => a == "http://schemas.xmlsoap.org/soap/actor/next",
        },
        SoapVersion::V12 => match block.attr(Some(ns), "role") {
            None => true,
            Some(r) => {
                r == "http://www.w3.org/2003/05/soap-envelope/role/next"
                    || r == "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        h
    }

    fn parse11(xml: &str) -> Result<SoapRequest, Fault> {
        parse(
            xml.as_bytes(),
            &headers("text/xml; charset=utf-8"),
            &Limits::default(),
        )
    }

    #[test]
    fn suds_style_two_prefixes_for_one_namespace_parse() {
        let xml = r#"<SOAP-ENV:Envelope xmlns:ns0="urn:op" xmlns:ns1="http://schemas.xmlsoap.org/soap/envelope/" xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Header/><ns1:Body><ns0:Op><ns0:a>1</ns0:a></ns0:Op></ns1:Body></SOAP-ENV:Envelope>"#;
        let req = parse11(xml).unwrap();
        assert_eq!(req.version, SoapVersion::V11);
        assert!(req.body.is("urn:op", "Op"));
    }

    #[test]
    fn soap12_envelopes_are_recognised() {
        let xml = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><Op xmlns="urn:op"/></env:Body></env:Envelope>"#;
        let req = parse(
            xml.as_bytes(),
            &headers("application/soap+xml;action=\"urn:op#Op\""),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(req.version, SoapVersion::V12);
    }

    #[test]
    fn a_foreign_envelope_namespace_is_a_version_mismatch() {
        let xml = r#"<e:Envelope xmlns:e="urn:not-soap"><e:Body><x xmlns="urn:op"/></e:Body></e:Envelope>"#;
        assert_eq!(parse11(xml).unwrap_err().code, FaultCode::VersionMismatch);
    }

    #[test]
    fn must_understand_headers_addressed_to_us_are_refused() {
        let env = |hdr: &str| {
            format!(
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>{hdr}</s:Header><s:Body><x xmlns="urn:op"/></s:Body></s:Envelope>"#
            )
        };
        let wsse = r#"<w:Security xmlns:w="urn:wsse" s:mustUnderstand="1"/>"#;
        assert_eq!(
            parse11(&env(wsse)).unwrap_err().code,
            FaultCode::MustUnderstand
        );
        assert!(
            parse11(&env(
                r#"<w:Security xmlns:w="urn:wsse" s:mustUnderstand="0"/>"#
            ))
            .is_ok()
        );
        assert!(
            parse11(&env(
                r#"<w:T xmlns:w="urn:w" s:mustUnderstand="1" s:actor="urn:someone-else"/>"#
            ))
            .is_ok()
        );
    }

    #[test]
    fn every_mandatory_block_not_understood_is_named_in_order() {
        let xml = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Header><a:X xmlns:a="urn:a" e:mustUnderstand="true"/><a:Y xmlns:a="urn:a"/><b:Z xmlns:b="urn:b" e:mustUnderstand="1"/><b:Sec xmlns:b="urn:b" e:mustUnderstand="1"/></e:Header><e:Body><x xmlns="urn:op"/></e:Body></e:Envelope>"#;
        let fault = parse_understanding(
            xml.as_bytes(),
            &headers("application/soap+xml"),
            &Limits::default(),
            &[("urn:b", "Sec")],
        )
        .unwrap_err();
        assert_eq!(
            (fault.code, fault.version, fault.reason.as_str()),
            (
                FaultCode::MustUnderstand,
                SoapVersion::V12,
                "Header block {urn:a}X is not understood"
            )
        );
        assert_eq!(
            fault.not_understood.to_vec(),
            [
                (Some("urn:a".to_owned()), "X".to_owned()),
                (Some("urn:b".to_owned()), "Z".to_owned())
            ]
        );
    }

    #[test]
    fn body_shape_is_checked() {
        let wrap = |body: &str| {
            format!(
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>{body}</s:Body></s:Envelope>"#
            )
        };
        assert!(parse11(&wrap("")).is_err());
        assert!(parse11(&wrap(r#"<a xmlns="urn:x"/><b xmlns="urn:x"/>"#)).is_err());
        assert!(parse11(&wrap("<unqualified/>")).is_err());
        assert!(parse11(r#"<x xmlns="urn:x"/>"#).is_err());
    }

    #[test]
    fn soap_action_is_read_in_every_form() {
        let mut h = HeaderMap::new();
        h.insert("SOAPAction", HeaderValue::from_static("\"urn:a#Op\""));
        assert_eq!(action(&h).as_deref(), Some("urn:a#Op"));
        let mut h = HeaderMap::new();
        h.insert("soapaction", HeaderValue::from_static("urn:b"));
        assert_eq!(action(&h).as_deref(), Some("urn:b"));
        assert_eq!(
            action(&headers(
                "application/soap+xml; charset=utf-8; action=\"urn:c\""
            ))
            .as_deref(),
            Some("urn:c")
        );
        assert_eq!(action(&headers("text/xml")), None);
    }

    #[test]
    fn content_types_are_checked() {
        assert!(check_content_type(&headers("text/xml; charset=\"UTF-8\"")).is_ok());
        assert!(check_content_type(&headers("Application/SOAP+XML")).is_ok());
        assert!(check_content_type(&HeaderMap::new()).is_ok());
        assert!(check_content_type(&headers("application/json")).is_err());
    }
}
