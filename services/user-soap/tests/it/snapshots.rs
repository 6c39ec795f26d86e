//! Snapshots (insta) of the replies legacy clients read byte for byte: the SOAP
//! registration reply and faults in 1.1 and 1.2, the WSDL and the JSON route's bodies.
//! Review or update them with `cargo insta review` (docs/ARCHITECTURE.md, Testing).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::app::{
    SoapApp as _, TEXT_XML, TestApp, legacy_envelope, pairs, soap12_envelope, user_fields,
};
use hub_testkit::snapshot::Replies;
use reqwest::Method;
use serde_json::{Map, Value, json};

const SOAP12: &str = "application/soap+xml; charset=utf-8";

/// `user_fields(tag)` with `field` set to `value`.
fn with(tag: &str, field: &str, value: &str) -> Vec<(String, String)> {
    let mut fields = user_fields(tag);
    fields.iter_mut().find(|(k, _)| k == field).unwrap().1 = value.to_owned();
    fields
}

fn json_of(fields: &[(String, String)]) -> Value {
    let map: Map<String, Value> = fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    Value::Object(map)
}

#[tokio::test]
async fn soap_wsdl_and_json_replies_match_their_snapshots() {
    let app = TestApp::spawn().await;
    // Fixed names: the database is the test's own, and snapshots must not vary.
    let first = user_fields("snap00000001");
    let taken = with("snap00000002", "username", &first[0].1);
    let bad_email = with("snap00000003", "email", "not-an-email");
    // The password policy's declared refusal (docs/COMPATIBILITY.md).
    let short_password = with("snap00000006", "password", "1234567");
    let soap11 =
        |fields: &[(String, String)]| app.request(TEXT_XML, legacy_envelope(&pairs(fields)));
    let soap12 = |fields: &[(String, String)]| app.request(SOAP12, soap12_envelope(&pairs(fields)));
    let api = || app.req(Method::POST, "/api/users");
    let cases = [
        ("register_11_ok", soap11(&first)),
        ("register_12_ok", soap12(&user_fields("snap00000004"))),
        ("fault_11_invalid_email", soap11(&bad_email)),
        ("fault_12_invalid_email", soap12(&bad_email)),
        ("fault_11_short_password", soap11(&short_password)),
        ("fault_12_short_password", soap12(&short_password)),
        (
            "fault_11_duplicate_with_soapaction",
            soap11(&taken).header("soapaction", "\"\""),
        ),
        ("fault_12_duplicate", soap12(&taken)),
        ("legacy_409_duplicate_without_soapaction", soap11(&taken)),
        (
            "fault_11_malformed_envelope",
            app.request(TEXT_XML, "not xml"),
        ),
        (
            "fault_12_malformed_envelope",
            app.request(SOAP12, "not xml"),
        ),
        (
            "fault_11_unsupported_media_type",
            app.request("application/json", "{}"),
        ),
        ("wsdl", app.req(Method::GET, "/register?wsdl")),
        (
            "json_201_registered",
            api().json(&json_of(&user_fields("snap00000005"))),
        ),
        ("json_409_duplicate", api().json(&json_of(&taken))),
        ("json_400_invalid_email", api().json(&json_of(&bad_email))),
        (
            "json_400_short_password",
            api().json(&json_of(&short_password)),
        ),
        (
            "json_400_not_an_object",
            api().json(&json!(["not", "an", "object"])),
        ),
        (
            "json_415_not_json",
            api().header("content-type", "text/plain").body("{}"),
        ),
    ];
    Replies::new(&app.base)
        .check(cases, |name, reply| insta::assert_snapshot!(name, reply))
        .await;
}
