//! Hostile input: every attack gets the right Fault, quickly, and stores nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::app::{
    SoapApp as _, SoapHelpers as _, TestApp, legacy_envelope, pairs, parts, two_instances,
    user_fields,
};

const ENV_OPEN: &str = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="http://example.com/user"><s:Body>"#;
const ENV_CLOSE: &str = "</s:Body></s:Envelope>";

fn in_envelope(inner: &str) -> String {
    format!("{ENV_OPEN}{inner}{ENV_CLOSE}")
}

async fn expect_fault(
    app: &TestApp,
    name: &str,
    body: Vec<u8>,
    status: u16,
    code: &str,
    reason_part: &str,
) {
    let started = std::time::Instant::now();
    let (s, ct, text) = parts(app.send("text/xml; charset=utf-8", body).await).await;
    assert_eq!(s, status, "{name}: {text:.300}");
    assert_eq!(ct, "text/xml; charset=utf-8", "{name}");
    assert!(
        text.contains(&format!("<faultcode>soapenv:{code}</faultcode>")),
        "{name}: {text:.300}"
    );
    assert!(text.contains(reason_part), "{name}: {text:.300}");
    // A fault, not an echo: nothing of the attack comes back.
    assert!(
        !text.contains("ENTITY") && !text.contains("etc/passwd"),
        "{name}"
    );
    assert!(
        started.elapsed().as_secs() < 5,
        "{name} took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_hostile_corpus_gets_faults_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let valid = legacy_envelope(&pairs(&user_fields("hostile01")));

    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        valid.replace(
            "<user:city>Málaga</user:city>",
            "<user:city>&xxe;</user:city>"
        )
    );
    let mut laughs = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        laughs.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&{prev};").repeat(10)
        ));
    }
    laughs.push_str("]>");
    laughs.push_str(&valid.replace("Málaga", "&lol9;"));
    let nested = |depth: usize| in_envelope(&("<u:x>".repeat(depth) + &"</u:x>".repeat(depth)));
    let latin1 = valid
        .replace("Málaga", "M\u{1}laga")
        .into_bytes()
        .into_iter()
        .map(|b| if b == 1 { 0xE1 } else { b })
        .collect();
    let truncated = valid.as_bytes()[..valid.len() / 2].to_vec();
    let wrong_ns = valid.replace(
        "http://schemas.xmlsoap.org/soap/envelope/",
        "http://example.com/not-soap",
    );
    let must = valid.replace(
        "<soapenv:Header/>",
        "<soapenv:Header><w:Security xmlns:w=\"urn:wsse\" soapenv:mustUnderstand=\"1\"/></soapenv:Header>",
    );
    let pi = format!("<?xml version=\"1.0\"?><?evil run?>{valid}");
    let two_ops = in_envelope("<u:RegisterUser/><u:RegisterUser/>");
    let unknown_op = in_envelope("<x:DropTables xmlns:x=\"urn:evil\"/>");

    // (name, body, status, fault code, part of the reason)
    #[rustfmt::skip]
    let corpus: [(&str, Vec<u8>, u16, &str, &str); 12] = [
        ("xxe", xxe.into_bytes(), 500, "Client", "DOCTYPE declarations are not allowed"),
        ("billion laughs", laughs.into_bytes(), 500, "Client", "DOCTYPE"),
        // 100 000 levels is ~1 MB: the body limit answers first, still as a fault.
        ("deep nesting (1 MB)", nested(100_000).into_bytes(), 413, "Client", "Request body too large"),
        ("deep nesting", nested(5_000).into_bytes(), 500, "Client", "nested too deeply"),
        ("50 MB body", vec![b'a'; 50 * 1024 * 1024], 413, "Client", "Request body too large"),
        ("non-UTF-8", latin1, 500, "Client", "UTF-8"),
        ("truncated", truncated, 500, "Client", "truncated"),
        ("wrong envelope namespace", wrong_ns.into_bytes(), 500, "VersionMismatch", "envelope namespace"),
        ("mustUnderstand", must.into_bytes(), 500, "MustUnderstand", "not understood"),
        ("processing instruction", pi.into_bytes(), 500, "Client", "Processing instructions"),
        ("two body children", two_ops.into_bytes(), 500, "Client", "exactly one element"),
        ("unknown operation", unknown_op.into_bytes(), 500, "Client", "Unknown operation"),
    ];
    for (name, body, status, code, reason_part) in corpus {
        expect_fault(&app, name, body, status, code, reason_part).await;
    }

    let sqli = valid.replace("user_hostile01", "x'); DROP TABLE \"user\"; --");
    let (s, _, _) = parts(app.send("text/xml", sqli).await).await;
    assert_eq!(s, 200, "an odd username is just a username");
    assert_eq!(
        app.users().await,
        1,
        "only the SQL-looking username was stored; nothing else"
    );
    let (s, _, _) = parts(app.send("text/xml", Vec::new()).await).await;
    assert_eq!(s, 500);
    assert_eq!(app.users().await, 1);
}

/// A SOAP 1.2 envelope with mandatory header blocks we do not understand: the
/// MustUnderstand fault names each in an `env:NotUnderstood` header block (SOAP 1.2 Part
/// 1 §5.4.8), its namespace declared, and nothing is stored.
#[tokio::test]
async fn a_soap12_must_understand_fault_names_every_block_not_understood() {
    let app = TestApp::spawn().await;
    let fields = user_fields("hostile02");
    let envelope = crate::app::soap12_envelope(&pairs(&fields)).replace(
        "<env:Body>",
        concat!(
            "<env:Header>",
            r#"<w:Security xmlns:w="urn:wsse" env:mustUnderstand="true"/>"#,
            r#"<t:Trace xmlns:t="urn:t" env:mustUnderstand="1"/>"#,
            r#"<t:Hint xmlns:t="urn:t" env:mustUnderstand="false"/>"#,
            r#"<t:Relay xmlns:t="urn:t" env:mustUnderstand="1" env:role="urn:next-hop"/>"#,
            "</env:Header><env:Body>"
        ),
    );
    let (status, ct, body) = parts(
        app.send("application/soap+xml; charset=utf-8", envelope)
            .await,
    )
    .await;
    assert_eq!(
        (status, ct.as_str()),
        (500, "application/soap+xml; charset=utf-8"),
        "{body}"
    );
    assert!(
        body.contains("<env:Code><env:Value>env:MustUnderstand</env:Value></env:Code>"),
        "{body}"
    );
    assert_eq!(
        hub_testkit::soap::not_understood(&body),
        ["{urn:wsse}Security", "{urn:t}Trace"],
        "{body}"
    );
    assert_eq!(app.users().await, 0);
}

/// With WS-Security required, neither door lets a registration through without the
/// service credentials, however it is dressed: no credentials on the JSON door, a
/// password in the clear over plain HTTP on either door, a client's own
/// `X-Forwarded-Proto: https` (the peer is no trusted proxy), on two instances at once.
/// Every attempt gets its protocol's refusal; nothing is stored, no event written.
#[tokio::test]
async fn with_ws_security_required_neither_door_registers_without_credentials() {
    let users = "partner:pa:ss wörd";
    let settings = [
        ("WSSE_MODE", "required"),
        ("WSSE_USERS", users),
        ("TRUSTED_PROXIES", "10.0.0.0/8"),
    ];
    let (a, b) = two_instances(&settings).await;
    let spoof = ("x-forwarded-proto", "https");
    let text_token = r#"<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken><wsse:Username>partner</wsse:Username><wsse:Password>pa:ss wörd</wsse:Password></wsse:UsernameToken></wsse:Security>"#;

    let attempts = (0..24).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        let fields = user_fields(&format!("bypass{i:02}"));
        async move {
            let request = match i % 4 {
                // The JSON door, no credentials (with and without the spoofed header).
                0 | 1 => {
                    let body: serde_json::Map<_, _> = fields
                        .iter()
                        .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
                        .collect();
                    let r = app.req(reqwest::Method::POST, "/api/users").json(&body);
                    if i % 4 == 1 {
                        r.header(spoof.0, spoof.1)
                    } else {
                        r
                    }
                }
                // The JSON door, the right password in the clear, spoofed "TLS".
                2 => app
                    .req(reqwest::Method::POST, "/api/users")
                    .basic_auth("partner", Some("pa:ss wörd"))
                    .header(spoof.0, spoof.1)
                    .json(&serde_json::json!({})),
                // The SOAP door, the right PasswordText, spoofed "TLS".
                _ => app
                    .request(
                        "text/xml; charset=utf-8",
                        legacy_envelope(&pairs(&fields)).replace(
                            "<soapenv:Header/>",
                            &format!("<soapenv:Header>{text_token}</soapenv:Header>"),
                        ),
                    )
                    .header(spoof.0, spoof.1),
            };
            let (status, ct, body) = parts(hub_testkit::Go::go(request).await).await;
            (i % 4, status, ct, body)
        }
    });
    for (kind, status, ct, body) in futures_util::future::join_all(attempts).await {
        assert!(!body.contains("pa:ss"), "{body}");
        match kind {
            0 | 1 => {
                assert_eq!((status, ct.as_str()), (401, "application/json"), "{body}");
                assert!(body.contains("Authentication required"), "{body}");
            }
            2 => {
                assert_eq!((status, ct.as_str()), (403, "application/json"), "{body}");
                assert!(body.contains("only over HTTPS"), "{body}");
            }
            _ => {
                assert_eq!(
                    (status, ct.as_str()),
                    (500, "text/xml; charset=utf-8"),
                    "{body}"
                );
                assert!(
                    body.contains("<faultcode>wsse:UnsupportedSecurityToken</faultcode>"),
                    "{body}"
                );
            }
        }
    }
    assert_eq!(a.users().await, 0, "nothing was registered");
    assert_eq!(
        hub_testkit::count(&a.db_url, "SELECT count(*) FROM outbox").await,
        0,
        "no event was written"
    );
}
