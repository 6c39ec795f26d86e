//! WS-Addressing (what WCF's SOAP 1.2 bindings send, `mustUnderstand` headers included)
//! and the registration limit as a fault a toolkit reads.
//!
//! A request with WS-Addressing is served (before: a MustUnderstand fault), its `Action`
//! checked against the registration's, and its answer carries the reply's `Action` and
//! `RelatesTo`; the same request without it gets the bytes it always got.

use hub_testkit::Go as _;

use crate::app::{
    SoapApp as _, SoapHelpers as _, TEXT_XML, THREE_PER_FORWARDED_ADDRESS, TestApp, assert_has,
    legacy_envelope, pairs, parts, tag, two_instances, user_fields,
};

const SOAP12: &str = "application/soap+xml; charset=utf-8";
const WSA10: &str = "http://www.w3.org/2005/08/addressing";
const WSA04: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
const ACTION: &str = "http://example.com/userservice/RegisterUser";

/// The registration of `fields` in `soap_ns`'s envelope, with WCF's addressing headers
/// in `wsa` (`Action` `action`, `MessageID` `id`, `ReplyTo` anonymous, `To`), the
/// mandatory ones marked as WCF marks them.
fn wcf_envelope(
    soap_ns: &str,
    wsa: &str,
    action: &str,
    id: &str,
    fields: &[(String, String)],
) -> String {
    let anonymous = if wsa == WSA10 {
        "http://www.w3.org/2005/08/addressing/anonymous"
    } else {
        "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
    };
    let body: String = fields
        .iter()
        .map(|(k, v)| format!("<{k}>{v}</{k}>"))
        .collect();
    format!(
        concat!(
            r#"<s:Envelope xmlns:s="{soap}" xmlns:a="{wsa}"><s:Header>"#,
            r#"<a:Action s:mustUnderstand="1">{action}</a:Action><a:MessageID>{id}</a:MessageID>"#,
            r#"<a:ReplyTo><a:Address>{anonymous}</a:Address></a:ReplyTo>"#,
            r#"<a:To s:mustUnderstand="1">http://localhost/register</a:To></s:Header>"#,
            r#"<s:Body><RegisterUser xmlns="http://example.com/user">{body}</RegisterUser></s:Body></s:Envelope>"#
        ),
        soap = soap_ns,
        wsa = wsa,
        action = action,
        id = id,
        anonymous = anonymous,
        body = body
    )
}

const V11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const V12: &str = "http://www.w3.org/2003/05/soap-envelope";

#[tokio::test]
async fn a_wcf_soap12_request_with_mandatory_addressing_registers_and_relates_its_reply() {
    let app = TestApp::spawn().await;
    let fields = user_fields(&tag());
    let req = wcf_envelope(V12, WSA10, ACTION, "urn:uuid:m-1", &fields);
    let ct = format!("{SOAP12}; action=\"{ACTION}\"");
    let (status, _, body) = parts(app.send(&ct, req).await).await;
    assert_eq!(status, 200, "{body}");
    // The original's reply, its empty Header now holding the reply's properties.
    assert!(
        body.starts_with(concat!(
            "<soapenv:Envelope xmlns:soapenv='http://www.w3.org/2003/05/soap-envelope' xmlns:us='http://example.com/userservice'>\n      ",
            r#"<soapenv:Header><wsa:Action xmlns:wsa="http://www.w3.org/2005/08/addressing">http://example.com/userservice/RegisterUserResponse</wsa:Action>"#,
            r#"<wsa:RelatesTo xmlns:wsa="http://www.w3.org/2005/08/addressing">urn:uuid:m-1</wsa:RelatesTo></soapenv:Header>"#,
            "\n      <soapenv:Body>\n        <us:registerUserResponse>\n          <us:message>User registered successfully</us:message>"
        )),
        "{body}"
    );
    assert_eq!(app.users().await, 1);
    // The duplicate: the RegistrationFault, with the WSDL's fault action.
    let again = wcf_envelope(V12, WSA10, ACTION, "urn:uuid:m-2", &fields);
    let (status, _, body) = parts(app.send(SOAP12, again).await).await;
    // A Sender fault, at 500 as WCF expects (400 without addressing).
    assert_eq!(status, 500, "{body}");
    assert_has(
        &body,
        r#"<env:Header><wsa:Action xmlns:wsa="http://www.w3.org/2005/08/addressing">http://example.com/userservice/RegisterUser/Fault/RegistrationFault</wsa:Action><wsa:RelatesTo xmlns:wsa="http://www.w3.org/2005/08/addressing">urn:uuid:m-2</wsa:RelatesTo></env:Header><env:Body><env:Fault>"#,
    );
    assert_has(&body, "<us:field>username</us:field>");
}

#[tokio::test]
async fn a_2004_08_request_over_soap11_gets_its_reply_addressed_to_anonymous() {
    let app = TestApp::spawn().await;
    let req = wcf_envelope(V11, WSA04, ACTION, "uuid:x", &user_fields(&tag()));
    let resp = app
        .request(TEXT_XML, req)
        .header("soapaction", format!("\"{ACTION}\""))
        .go()
        .await;
    let (status, _, body) = parts(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_has(
        &body,
        concat!(
            r#"<soapenv:Header><wsa:Action xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">http://example.com/userservice/RegisterUserResponse</wsa:Action>"#,
            r#"<wsa:RelatesTo xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">uuid:x</wsa:RelatesTo>"#,
            r#"<wsa:To xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To></soapenv:Header>"#
        ),
    );
}

/// An `Action` that is not the registration's is the WS-Addressing binding's
/// `ActionNotSupported` fault in the request's version, and nothing is registered.
#[tokio::test]
async fn a_wrong_action_is_action_not_supported_and_registers_nobody() {
    let app = TestApp::spawn().await;
    let wrong = "http://example.com/userservice/DeleteUser";
    let req = wcf_envelope(V12, WSA10, wrong, "urn:uuid:w", &user_fields(&tag()));
    let (status, _, body) = parts(app.send(SOAP12, req).await).await;
    assert_eq!(status, 500, "{body}");
    assert_has(
        &body,
        "<env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>wsa:ActionNotSupported</env:Value></env:Subcode></env:Code>",
    );
    assert_has(
        &body,
        &format!(
            "<wsa:ProblemAction xmlns:wsa=\"{WSA10}\"><wsa:Action>{wrong}</wsa:Action></wsa:ProblemAction>"
        ),
    );
    assert_has(
        &body,
        "<wsa:RelatesTo xmlns:wsa=\"http://www.w3.org/2005/08/addressing\">urn:uuid:w</wsa:RelatesTo>",
    );
    let req = wcf_envelope(V11, WSA04, wrong, "uuid:w", &user_fields(&tag()));
    let (status, _, body) = parts(app.send(TEXT_XML, req).await).await;
    assert_eq!(status, 500, "{body}");
    assert_has(&body, &format!("xmlns:wsa=\"{WSA04}\""));
    assert_has(&body, "<faultcode>wsa:ActionNotSupported</faultcode>");
    assert_has(
        &body,
        &format!(
            "<wsa:FaultDetail xmlns:wsa=\"{WSA04}\"><wsa:ProblemAction><wsa:Action>{wrong}</wsa:Action>"
        ),
    );
    // A SOAPAction that contradicts the Action is refused too.
    let req = wcf_envelope(V11, WSA10, ACTION, "u", &user_fields(&tag()));
    let resp = app
        .request(TEXT_XML, req)
        .header("soapaction", "\"urn:other\"")
        .go()
        .await;
    let (status, _, body) = parts(resp).await;
    assert_eq!(status, 500, "{body}");
    assert_has(&body, "<faultcode>wsa:InvalidAddressingHeader</faultcode>");
    assert_eq!(app.users().await, 0);
}

/// Over the limit, a toolkit (SOAP 1.1 with `SOAPAction`, or 1.2) gets the WSDL's
/// `RateLimitFault` with the seconds to wait and `Retry-After`, on both instances
/// together; the legacy request still gets the 429.
#[tokio::test]
async fn over_the_limit_a_toolkit_gets_a_rate_limit_fault_across_two_instances() {
    let (a, b) = two_instances(&THREE_PER_FORWARDED_ADDRESS).await;
    let register = async |app: &TestApp, i: usize| {
        let fields = user_fields(&tag());
        let req = if i.is_multiple_of(3) {
            app.request(SOAP12, crate::app::soap12_envelope(&pairs(&fields)))
        } else {
            app.request(TEXT_XML, legacy_envelope(&pairs(&fields)))
                .header("soapaction", "\"\"")
        };
        let resp = req.header("x-forwarded-for", "203.0.113.77").go().await;
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        let (status, _, body) = parts(resp).await;
        (i, status, retry_after, body)
    };
    let replies = futures_util::future::join_all(
        (0..12_usize).map(|i| register(if i.is_multiple_of(2) { &a } else { &b }, i)),
    )
    .await;
    assert_eq!(
        replies.iter().filter(|r| r.1 == 200).count(),
        3,
        "{replies:?}"
    );
    for (i, status, retry_after, body) in replies.iter().filter(|r| r.1 != 200) {
        let secs = retry_after.unwrap();
        assert!((1..=60).contains(&secs), "{secs}");
        assert_has(
            body,
            &format!(
                "<us:RateLimitFault xmlns:us=\"http://example.com/userservice\"><us:retryAfterSeconds>{secs}</us:retryAfterSeconds><us:message>Too many registrations from this address; retry after {secs} s</us:message></us:RateLimitFault>"
            ),
        );
        if i.is_multiple_of(3) {
            assert_eq!(*status, 400, "SOAP 1.2 Sender: {body}");
            assert_has(body, "<env:Value>env:Sender</env:Value>");
        } else {
            assert_eq!(*status, 500, "SOAP 1.1 Client: {body}");
            assert_has(body, "<faultcode>soapenv:Client</faultcode>");
        }
    }
    assert_eq!(a.users().await, 3);
    // The legacy request from the same address: today's 429, no detail.
    let fields = user_fields(&tag());
    let resp = a
        .request(TEXT_XML, legacy_envelope(&pairs(&fields)))
        .header("x-forwarded-for", "203.0.113.77")
        .go()
        .await;
    assert!(resp.headers().contains_key("retry-after"));
    let (status, _, body) = parts(resp).await;
    assert_eq!(status, 429, "{body}");
    assert!(!body.contains("RateLimitFault"), "{body}");
}
