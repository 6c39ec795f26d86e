//! The lookup's messages: the original's envelope bytes, the SOAP operation's reply and
//! the HTTP GET binding's bare element (the faults: `error.rs`).

use hub_soap::{SoapVersion, xml::escape};

/// The original's response namespace, and the WSDL's.
pub const WEB_NS: &str = "http://www.example.org/webservice";
/// The operation's `Action` (WS-Addressing `wsaw:Action` and `soapAction` in the WSDL).
pub const ACTION: &str = "http://www.example.org/webservice/getUserByUsername";
/// The `Action` of its reply (the WSDL's output `wsaw:Action`).
pub const REPLY_ACTION: &str = "http://www.example.org/webservice/getUserByUsernameResponse";
/// The `Action` of a `LookupFault` (the WSDL's fault `wsaw:Action`).
pub const LOOKUP_FAULT_ACTION: &str =
    "http://www.example.org/webservice/getUserByUsername/Fault/LookupFault";

/// The Go original's reply to `GET /user/soap`, byte for byte (it starts with a
/// newline and two tabs and ends with a newline and a tab), values XML-escaped.
pub fn legacy_envelope(id: &str, username: &str) -> String {
    format!(
        "\n\t\t<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"\n\t\t\txmlns:web=\"{WEB_NS}\">\n\t\t\t<soapenv:Header/>\n\t\t\t<soapenv:Body>\n\t\t\t\t<web:getUserByUsernameResponse>\n\t\t\t\t\t<web:id>{}</web:id>\n\t\t\t\t\t<web:username>{}</web:username>\n\t\t\t\t</web:getUserByUsernameResponse>\n\t\t\t</soapenv:Body>\n\t\t</soapenv:Envelope>\n\t",
        escape(id),
        escape(username)
    )
}

fn response_element(id: &str, username: &str) -> String {
    format!(
        "<web:getUserByUsernameResponse xmlns:web=\"{WEB_NS}\"><web:id>{}</web:id><web:username>{}</web:username></web:getUserByUsernameResponse>",
        escape(id),
        escape(username)
    )
}

/// The SOAP operation's reply envelope, in the request's version.
pub fn soap_reply(version: SoapVersion, id: &str, username: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"{}\"><soapenv:Body>{}</soapenv:Body></soapenv:Envelope>",
        version.ns(),
        response_element(id, username)
    )
}

/// The HTTP GET binding's reply: the bare response element (`mime:mimeXml`).
pub fn bare_reply(id: &str, username: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>{}",
        response_element(id, username)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legacy_envelope_matches_the_original_bytes_and_escapes_values() {
        let body = legacy_envelope("3f1c", "ana");
        assert!(body.starts_with("\n\t\t<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"\n\t\t\txmlns:web="));
        assert!(body.contains(
            "\n\t\t\t\t\t<web:id>3f1c</web:id>\n\t\t\t\t\t<web:username>ana</web:username>\n"
        ));
        assert!(body.ends_with("</soapenv:Envelope>\n\t"));
        assert!(
            legacy_envelope("x", "<a&b>").contains("<web:username>&lt;a&amp;b&gt;</web:username>")
        );
    }
}
