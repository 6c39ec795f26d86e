//! user-lookup's contract against a real PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::app::{LookupApp as _, SOAP11, SOAP12, TestApp};
use hub_testkit::{Go as _, parts};
use reqwest::Method;
use uuid::Uuid;

/// user-lookup's requests, read as (status, content type, body).
trait Lookup {
    /// `GET path_and_query`.
    async fn fetch(&self, path_and_query: &str) -> (u16, String, String);
    /// `POST /user/soap` of `body` as `content_type`.
    async fn soap(&self, content_type: &str, body: String) -> (u16, String, String);
    /// Seeds `username`, then GETs `path_and_query`, which must find it: 200 as
    /// `content_type`. The seeded id and the body.
    async fn found(
        &self,
        username: &str,
        path_and_query: &str,
        content_type: &str,
    ) -> (Uuid, String);
}

impl Lookup for TestApp {
    async fn fetch(&self, path_and_query: &str) -> (u16, String, String) {
        parts(self.get(path_and_query).await).await
    }

    async fn soap(&self, content_type: &str, body: String) -> (u16, String, String) {
        let request = self.req(Method::POST, "/user/soap");
        let request = request.header("content-type", content_type).body(body);
        parts(request.go().await).await
    }

    async fn found(
        &self,
        username: &str,
        path_and_query: &str,
        content_type: &str,
    ) -> (Uuid, String) {
        let id = self.insert(username).await;
        let (status, ct, body) = self.fetch(path_and_query).await;
        assert_eq!((status, ct.as_str()), (200, content_type));
        (id, body)
    }
}

#[tokio::test]
async fn the_legacy_get_answers_the_original_envelope_byte_for_byte() {
    let app = TestApp::spawn().await;
    let (id, body) = app
        .found("jdoe", "/user/soap?username=jdoe", "text/xml")
        .await;
    assert_eq!(
        body,
        format!(
            "\n\t\t<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"\n\t\t\txmlns:web=\"http://www.example.org/webservice\">\n\t\t\t<soapenv:Header/>\n\t\t\t<soapenv:Body>\n\t\t\t\t<web:getUserByUsernameResponse>\n\t\t\t\t\t<web:id>{id}</web:id>\n\t\t\t\t\t<web:username>jdoe</web:username>\n\t\t\t\t</web:getUserByUsernameResponse>\n\t\t\t</soapenv:Body>\n\t\t</soapenv:Envelope>\n\t"
        )
    );
}

#[tokio::test]
async fn odd_usernames_are_escaped_and_found_exactly() {
    let app = TestApp::spawn().await;
    app.insert("<&>\"' José").await;
    let (status, _, body) = app
        .fetch("/user/soap?username=%3C%26%3E%22%27+Jos%C3%A9")
        .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("<web:username>&lt;&amp;&gt;&quot;&apos; José</web:username>"),
        "{body}"
    );
    // Only the first username counts, as Go's Query().Get.
    let (status, _, _) = app
        .fetch("/user/soap?username=nobody&username=%3C%26%3E%22%27+Jos%C3%A9")
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_missing_username_is_400_and_an_unknown_one_404_both_as_faults() {
    let app = TestApp::spawn().await;
    for (q, status, reason) in [
        ("/user/soap", 400, "Username is required"),
        ("/user/soap?username=", 400, "Username is required"),
        ("/user/soap?username=ghost", 404, "User not found"),
        ("/user/soap?username=a%00b", 404, "User not found"),
        ("/user/lookup?username=ghost", 404, "User not found"),
    ] {
        let (s, ct, body) = app.fetch(q).await;
        assert_eq!((s, ct.as_str()), (status, "text/xml; charset=utf-8"), "{q}");
        assert!(
            body.contains("<faultcode>soapenv:Client</faultcode>"),
            "{q}: {body}"
        );
        assert!(
            body.contains(&format!("<web:message>{reason}</web:message>")),
            "{q}: {body}"
        );
    }
}

fn op(version_ns: &str, username: &str) -> String {
    format!(
        r#"<e:Envelope xmlns:e="{version_ns}"><e:Body><w:getUserByUsername xmlns:w="http://www.example.org/webservice"><w:username>{username}</w:username></w:getUserByUsername></e:Body></e:Envelope>"#
    )
}

#[tokio::test]
async fn the_soap_operation_answers_in_the_request_version() {
    let app = TestApp::spawn().await;
    let id = app.insert("kim").await;
    let (s, ct, body) = app.soap("text/xml; charset=utf-8", op(SOAP11, "kim")).await;
    assert_eq!((s, ct.as_str()), (200, "text/xml; charset=utf-8"));
    assert!(
        body.contains(&format!(
            "<web:id>{id}</web:id><web:username>kim</web:username>"
        )),
        "{body}"
    );
    let (s, ct, body) = app.soap("application/soap+xml", op(SOAP12, "kim")).await;
    assert_eq!(
        (s, ct.as_str()),
        (200, "application/soap+xml; charset=utf-8")
    );
    assert!(body.contains("xmlns:soapenv=\"http://www.w3.org/2003/05/soap-envelope\""));

    let (s, _, body) = app.soap("text/xml", op(SOAP11, "ghost")).await;
    assert_eq!(s, 500);
    assert!(body.contains("<web:LookupFault"), "{body}");
    let (s, _, body) = app.soap("application/soap+xml", op(SOAP12, "ghost")).await;
    assert_eq!(s, 400);
    assert!(body.contains("<env:Value>env:Sender</env:Value>"));
    let xxe = format!(
        "<!DOCTYPE e [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        op(SOAP11, "&x;")
    );
    let (s, _, body) = app.soap("text/xml", xxe).await;
    assert_eq!(s, 500);
    assert!(body.contains("DOCTYPE declarations are not allowed") && !body.contains("root:"));
}

#[tokio::test]
async fn the_http_get_binding_answers_the_bare_element() {
    let app = TestApp::spawn().await;
    let (id, body) = app
        .found(
            "lee",
            "/user/lookup?username=lee",
            "text/xml; charset=utf-8",
        )
        .await;
    assert_eq!(
        body,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><web:getUserByUsernameResponse xmlns:web=\"http://www.example.org/webservice\"><web:id>{id}</web:id><web:username>lee</web:username></web:getUserByUsernameResponse>"
        )
    );
}

#[tokio::test]
async fn the_wsdl_and_health_are_served() {
    let app = TestApp::spawn().await;
    let (s, ct, body) = app.fetch("/user/soap?wsdl").await;
    assert_eq!((s, ct.as_str()), (200, "text/xml; charset=utf-8"));
    assert!(body.contains(&format!(
        "<soap:address location=\"http://{}/user/soap\"/>",
        app.addr
    )));
    assert!(body.contains(&format!(
        "<http:address location=\"http://{}/user\"/>",
        app.addr
    )));
    for path in ["/user-search/health", "/health"] {
        let (s, ct, body) = app.fetch(path).await;
        assert_eq!(
            (s, ct.as_str(), body.as_str()),
            (200, "text/plain; charset=utf-8", "✅ Healthy")
        );
    }
    let (s, ct, body) = app.fetch("/nope").await;
    assert_eq!((s, ct.as_str()), (404, "text/xml; charset=utf-8"));
    assert!(body.contains("soapenv:Fault"));
}

/// A getUserByUsername request with WCF's WS-Addressing 1.0 headers (`mustUnderstand`)
/// naming `action`, in `soap_ns`.
fn wcf_lookup(soap_ns: &str, action: &str, username: &str) -> String {
    format!(
        concat!(
            r#"<s:Envelope xmlns:s="{soap}" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header>"#,
            r#"<a:Action s:mustUnderstand="1">{action}</a:Action><a:MessageID>urn:uuid:q</a:MessageID>"#,
            r#"<a:ReplyTo><a:Address>http://www.w3.org/2005/08/addressing/anonymous</a:Address></a:ReplyTo>"#,
            r#"<a:To s:mustUnderstand="1">http://localhost/user/soap</a:To></s:Header><s:Body>"#,
            r#"<getUserByUsername xmlns="http://www.example.org/webservice"><username>{username}</username></getUserByUsername>"#,
            "</s:Body></s:Envelope>"
        ),
        soap = soap_ns,
        action = action,
        username = username
    )
}

/// WCF's mandatory WS-Addressing headers are understood (before: MustUnderstand): the
/// reply and the LookupFault carry their WSDL actions and `RelatesTo`; the same lookup
/// without addressing is unchanged; a wrong `Action` is `ActionNotSupported`.
#[tokio::test]
async fn ws_addressing_requests_are_answered_with_the_reply_properties() {
    let app = TestApp::spawn().await;
    let id = app.insert("wsa_user").await;
    let action = "http://www.example.org/webservice/getUserByUsername";
    let (status, _, body) = app
        .soap(
            "application/soap+xml; charset=utf-8",
            wcf_lookup(SOAP12, action, "wsa_user"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"{SOAP12}\"><soapenv:Header><wsa:Action xmlns:wsa=\"http://www.w3.org/2005/08/addressing\">http://www.example.org/webservice/getUserByUsernameResponse</wsa:Action><wsa:RelatesTo xmlns:wsa=\"http://www.w3.org/2005/08/addressing\">urn:uuid:q</wsa:RelatesTo></soapenv:Header><soapenv:Body><web:getUserByUsernameResponse xmlns:web=\"http://www.example.org/webservice\"><web:id>{id}</web:id><web:username>wsa_user</web:username></web:getUserByUsernameResponse></soapenv:Body></soapenv:Envelope>"
        )
    );
    let (status, _, body) = app
        .soap("text/xml", wcf_lookup(SOAP11, action, "nobody"))
        .await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("<soapenv:Header><wsa:Action xmlns:wsa=\"http://www.w3.org/2005/08/addressing\">http://www.example.org/webservice/getUserByUsername/Fault/LookupFault</wsa:Action>"), "{body}");
    assert!(
        body.contains("<web:message>User not found</web:message>"),
        "{body}"
    );
    let (status, _, body) = app
        .soap(
            "application/soap+xml",
            wcf_lookup(SOAP12, "urn:wrong", "wsa_user"),
        )
        .await;
    // A Sender fault, at 500 as WCF expects (400 without addressing).
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("<env:Value>wsa:ActionNotSupported</env:Value>"),
        "{body}"
    );
    assert!(!body.contains(&id.to_string()), "{body}");
}
