//! Snapshots (insta) of the replies legacy clients read byte for byte: the lookup in
//! SOAP 1.1 and 1.2, over GET, its not-found faults and the WSDL.
//! Review or update them with `cargo insta review` (docs/ARCHITECTURE.md, Testing).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::app::{LookupApp as _, SOAP11, SOAP12, TestApp};
use hub_testkit::snapshot::Replies;
use reqwest::Method;

/// The `getUserByUsername` operation for `{user}` in the envelope of `{ns}`.
const OP: &str = r#"<e:Envelope xmlns:e="{ns}"><e:Body><w:getUserByUsername xmlns:w="http://www.example.org/webservice"><w:username>{user}</w:username></w:getUserByUsername></e:Body></e:Envelope>"#;

#[tokio::test]
async fn lookup_replies_and_the_wsdl_match_their_snapshots() {
    let app = TestApp::spawn().await;
    app.insert("jdoe").await;
    let soap = |content_type: &str, body: String| {
        app.req(Method::POST, "/user/soap")
            .header("content-type", content_type)
            .body(body)
    };
    let op = |ns: &str, user: &str| OP.replace("{ns}", ns).replace("{user}", user);
    let get = |path: &str| app.req(Method::GET, path);
    let cases = [
        (
            "soap_11_found",
            soap("text/xml; charset=utf-8", op(SOAP11, "jdoe")),
        ),
        (
            "soap_12_found",
            soap("application/soap+xml", op(SOAP12, "jdoe")),
        ),
        ("soap_11_not_found", soap("text/xml", op(SOAP11, "ghost"))),
        (
            "soap_12_not_found",
            soap("application/soap+xml", op(SOAP12, "ghost")),
        ),
        ("soap_11_malformed", soap("text/xml", "not xml".into())),
        ("get_legacy_found", get("/user/soap?username=jdoe")),
        ("get_legacy_not_found", get("/user/soap?username=ghost")),
        ("get_legacy_missing_username", get("/user/soap")),
        ("get_lookup_found", get("/user/lookup?username=jdoe")),
        ("get_lookup_not_found", get("/user/lookup?username=ghost")),
        ("wsdl", get("/user/soap?wsdl")),
        ("unknown_path", get("/nope")),
    ];
    Replies::new(&app.base)
        .check(cases, |name, reply| insta::assert_snapshot!(name, reply))
        .await;
}
