//! The SOAP reader (hub_soap::xml) and envelope checks (hub_soap::envelope) on any
//! body: every input is a parsed request or a Fault, never a panic, and a Fault
//! renders. The first byte picks the Content-Type (SOAP 1.1, 1.2, or neither).
#![no_main]

use axum::{
    http::{HeaderMap, HeaderValue, header},
    response::IntoResponse as _,
};
use hub_soap::{
    envelope,
    xml::{self, Limits},
};

const CONTENT_TYPES: [&str; 4] = [
    "text/xml; charset=utf-8",
    "application/soap+xml; charset=utf-8",
    "application/soap+xml; charset=utf-8; action=\"urn:x\"",
    "text/plain",
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()]),
    );
    match envelope::parse(body, &headers, &Limits::default()) {
        Ok(request) => {
            let _ = request.body.qname();
        }
        Err(fault) => {
            let _ = fault.into_response();
        }
    }
    // The reader alone under small limits, so that every limit is reached, and the
    // tree it builds walked.
    if let Ok(text) = xml::decode(body) {
        let small = Limits {
            max_depth: 4,
            max_elements: 16,
            max_attributes: 4,
            max_text: 64,
        };
        if let Ok(root) = xml::parse(&text, &small) {
            let _ = root.descendants_named("http://schemas.xmlsoap.org/soap/envelope/", "Body");
            // Text escapes and reads back as itself.
            let escaped = format!("<a>{}</a>", xml::escape(&root.text));
            if let Ok(again) = xml::parse(&escaped, &Limits::default()) {
                assert_eq!(again.text, root.text);
            }
        }
    }
});
