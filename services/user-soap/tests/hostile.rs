//! Hostile input: every attack gets the right Fault, quickly, and stores nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{TestApp, legacy_envelope, pairs, parts, user_fields};

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
    let (s, ct, text) = parts(app.post("text/xml; charset=utf-8", body).await).await;
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
    expect_fault(
        &app,
        "xxe",
        xxe.into_bytes(),
        500,
        "Client",
        "DOCTYPE declarations are not allowed",
    )
    .await;

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
    expect_fault(
        &app,
        "billion laughs",
        laughs.into_bytes(),
        500,
        "Client",
        "DOCTYPE",
    )
    .await;

    let deep = in_envelope(&format!(
        "{}{}",
        "<u:x>".repeat(100_000),
        "</u:x>".repeat(100_000)
    ));
    // 100 000 levels is ~1 MB: the body limit answers first, still as a fault.
    expect_fault(
        &app,
        "deep nesting (1 MB)",
        deep.into_bytes(),
        413,
        "Client",
        "Request body too large",
    )
    .await;
    let deep_small = in_envelope(&format!(
        "{}{}",
        "<u:x>".repeat(5_000),
        "</u:x>".repeat(5_000)
    ));
    expect_fault(
        &app,
        "deep nesting",
        deep_small.into_bytes(),
        500,
        "Client",
        "nested too deeply",
    )
    .await;

    let huge = vec![b'a'; 50 * 1024 * 1024];
    expect_fault(
        &app,
        "50 MB body",
        huge,
        413,
        "Client",
        "Request body too large",
    )
    .await;

    let latin1 = valid
        .replace("Málaga", "M\u{1}laga")
        .into_bytes()
        .into_iter()
        .map(|b| if b == 1 { 0xE1 } else { b })
        .collect();
    expect_fault(&app, "non-UTF-8", latin1, 500, "Client", "UTF-8").await;

    let truncated = valid.as_bytes()[..valid.len() / 2].to_vec();
    expect_fault(&app, "truncated", truncated, 500, "Client", "truncated").await;

    let wrong_ns = valid.replace(
        "http://schemas.xmlsoap.org/soap/envelope/",
        "http://example.com/not-soap",
    );
    expect_fault(
        &app,
        "wrong envelope namespace",
        wrong_ns.into_bytes(),
        500,
        "VersionMismatch",
        "envelope namespace",
    )
    .await;

    let must = valid.replace(
        "<soapenv:Header/>",
        "<soapenv:Header><w:Security xmlns:w=\"urn:wsse\" soapenv:mustUnderstand=\"1\"/></soapenv:Header>",
    );
    expect_fault(
        &app,
        "mustUnderstand",
        must.into_bytes(),
        500,
        "MustUnderstand",
        "not understood",
    )
    .await;

    let pi = format!("<?xml version=\"1.0\"?><?evil run?>{valid}");
    expect_fault(
        &app,
        "processing instruction",
        pi.into_bytes(),
        500,
        "Client",
        "Processing instructions",
    )
    .await;

    let two_ops = in_envelope("<u:RegisterUser/><u:RegisterUser/>");
    expect_fault(
        &app,
        "two body children",
        two_ops.into_bytes(),
        500,
        "Client",
        "exactly one element",
    )
    .await;

    let unknown_op = in_envelope("<x:DropTables xmlns:x=\"urn:evil\"/>");
    expect_fault(
        &app,
        "unknown operation",
        unknown_op.into_bytes(),
        500,
        "Client",
        "Unknown operation",
    )
    .await;

    let sqli = valid.replace("user_hostile01", "x'); DROP TABLE \"user\"; --");
    let (s, _, _) = parts(app.post("text/xml", sqli).await).await;
    assert_eq!(s, 200, "an odd username is just a username");
    assert_eq!(
        app.users().await,
        1,
        "only the SQL-looking username was stored; nothing else"
    );
    let (s, _, _) = parts(app.post("text/xml", Vec::new()).await).await;
    assert_eq!(s, 500);
    assert_eq!(app.users().await, 1);
}
