//! WS-Security UsernameToken with real clients: zeep's `UsernameToken` (text and
//! `use_digest=True`) and node-soap's `WSSecurity` (`PasswordText` and
//! `PasswordDigest`) register on user-soap and look up on user-lookup over SOAP 1.1 and
//! 1.2, both services with `WSSE_MODE=required` on one database; wrong passwords get
//! the standard fault as each client decodes it. Also: both clients' digests equal ours
//! on random inputs, a nonce used on one service is refused by the other, and with the
//! mode off a `Security` header is refused exactly as before.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use hub_checks::{IN_PROCESS, client_script};
use hub_soap::wsse::{self, PASSWORD_DIGEST, WSSE_NS, WSU_NS};
use hub_testkit::{Go as _, Spawned, parts};
use serde_json::Value;

const USER: &str = "partner";
// A colon and markup: the first `:` of a WSSE_USERS entry ends the user name.
const PASSWORD: &str = "s3cret: wörd<&>\"'";
const FAILED: &str = "The security token could not be authenticated or authorized";

struct Pair {
    soap: Spawned,
    lookup: Spawned,
}

/// user-soap and user-lookup on one fresh database, with `extra` settings.
async fn start(extra: &[(&str, &str)]) -> Pair {
    let db_url = hub_testkit::create_database("wsse").await;
    let queue = hub_testkit::queue_name("wsse");
    let amqp = hub_testkit::amqp_url();
    let own = [
        ("DATABASE_URL", db_url.as_str()),
        ("AMQP_URL", &amqp),
        ("RABBITMQ_QUEUE", &queue),
        ("REGISTER_MAX_PER_ADDRESS", "1000000"),
    ];
    let source = hub_testkit::config_source(&[&IN_PROCESS[..], &own].concat(), extra);
    Pair {
        soap: hub_testkit::spawn::<user_soap::UserSoap>(&source).await,
        lookup: hub_testkit::spawn::<user_lookup::UserLookup>(&source).await,
    }
}

/// Both services requiring WS-Security. The clients send PasswordText over plain HTTP
/// to 127.0.0.1, which `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP` allows.
async fn required() -> Pair {
    let users = format!("{USER}:{PASSWORD}\nsomeone-else:other");
    start(&[
        ("WSSE_MODE", "required"),
        ("WSSE_USERS", &users),
        ("WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP", "true"),
    ])
    .await
}

/// Runs a command off the async workers (the services run on them); its stdout.
async fn output(mut cmd: Command) -> String {
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("start the client"))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn run_client(mut cmd: Command, pair: &Pair) -> Value {
    cmd.arg(&pair.soap.base)
        .arg(&pair.lookup.base)
        .arg(&uuid::Uuid::new_v4().simple().to_string()[..8])
        .env("WSSE_TEST_USER", USER)
        .env("WSSE_TEST_PASSWORD", PASSWORD);
    let stdout = output(cmd).await;
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Every registration worked and its lookup found the same id.
fn assert_registered_and_found(out: &Value, client: &str) {
    for case in ["text11", "text12", "digest11", "digest12"] {
        let reg = &out[format!("register_{case}")]["ok"];
        assert_eq!(
            reg["message"], "User registered successfully",
            "{client} {case}: {out}"
        );
        let found = &out[format!("lookup_{case}")]["ok"];
        assert_eq!(found["id"], reg["id"], "{client} {case}: {out}");
    }
}

#[tokio::test]
async fn zeep_username_tokens_text_and_digest_work_on_both_services() {
    let pair = required().await;
    let mut cmd = Command::new(hub_testkit::python());
    cmd.arg(client_script("wsse_zeep.py"));
    let out = run_client(cmd, &pair).await;
    assert_registered_and_found(&out, "zeep");
    let subcode = format!("{{{WSSE_NS}}}FailedAuthentication");
    for case in ["wrong_text11", "wrong_digest11"] {
        let fault = &out[case]["fault"];
        assert_eq!(fault["code"], "wsse:FailedAuthentication", "{case}: {out}");
        assert_eq!(fault["message"], FAILED, "{case}: {out}");
    }
    for case in ["wrong_text12", "wrong_digest12"] {
        let fault = &out[case]["fault"];
        assert_eq!(fault["subcodes"][0], subcode.as_str(), "{case}: {out}");
        assert_eq!(fault["message"], FAILED, "{case}: {out}");
    }
    let missing = &out["missing12"]["fault"];
    assert_eq!(missing["subcodes"][0], subcode.as_str(), "{out}");
    assert!(
        missing["message"].as_str().unwrap().starts_with(FAILED),
        "{out}"
    );
}

#[tokio::test]
async fn node_soap_ws_security_text_and_digest_work_on_both_services() {
    let pair = required().await;
    let mut cmd = Command::new("node");
    cmd.arg(client_script("wsse_node.js"))
        .env("NODE_PATH", hub_testkit::env("HUB_NODE_PATH"));
    let out = run_client(cmd, &pair).await;
    assert_registered_and_found(&out, "node-soap");
    for case in ["wrong_text11", "wrong_digest11"] {
        let fault = &out[case]["fault"];
        assert_eq!(fault["code"], "wsse:FailedAuthentication", "{case}: {out}");
        assert_eq!(fault["reason"], FAILED, "{case}: {out}");
        assert_eq!(fault["status"], 500, "{case}: {out}");
    }
    for case in ["wrong_text12", "wrong_digest12"] {
        let fault = &out[case]["fault"];
        assert_eq!(
            fault["subcode"], "wsse:FailedAuthentication",
            "{case}: {out}"
        );
        assert_eq!(fault["code"], "env:Sender", "{case}: {out}");
        assert_eq!(fault["reason"], FAILED, "{case}: {out}");
        assert_eq!(fault["status"], 400, "{case}: {out}");
    }
}

#[tokio::test]
async fn both_clients_digests_equal_ours() {
    for i in 0..4 {
        // zeep takes the nonce as text (its UTF-8 bytes); it makes its own Created (now).
        let nonce = uuid::Uuid::new_v4().simple().to_string()[..16 + i].to_owned();
        let password = format!("pw {i} wörd <&> {}", uuid::Uuid::new_v4());
        let mut zeep = Command::new(hub_testkit::python());
        zeep.args([
            "-c",
            r#"
import json, os, sys
from lxml import etree
from zeep.wsse.username import UsernameToken
env = etree.fromstring(b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>')
env, _ = UsernameToken("u", os.environ["PW"], use_digest=True, nonce=sys.argv[1]).apply(env, {})
ns = {"wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd", "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"}
print(json.dumps({k: env.findtext(".//" + p, namespaces=ns) for k, p in (("digest", "wsse:Password"), ("nonce", "wsse:Nonce"), ("created", "wsu:Created"))}))
"#,
            &nonce,
        ])
        .env("PW", &password);
        let z: Value = serde_json::from_str(&output(zeep).await).unwrap();
        let nonce = nonce.into_bytes();
        assert_eq!(z["nonce"], BASE64.encode(&nonce), "zeep used our nonce");
        assert_eq!(
            z["digest"],
            wsse::password_digest(&nonce, z["created"].as_str().unwrap(), &password),
            "zeep {z}"
        );
        // node-soap: its passwordDigest on a `Z` Created.
        let created = "2026-12-01T10:00:00Z";
        let mut node = Command::new("node");
        node.args([
            "-e",
            "console.log(require('soap/lib/utils').passwordDigest(process.argv[1], process.argv[2], process.env.PW))",
            &BASE64.encode(&nonce),
            created,
        ])
        .env("PW", &password)
        .env("NODE_PATH", hub_testkit::env("HUB_NODE_PATH"));
        assert_eq!(
            output(node).await.trim(),
            wsse::password_digest(&nonce, created, &password),
            "node-soap"
        );
    }
}

/// A Header (its envelope's prefix `s`) with a fresh digest token using `nonce`.
fn digest_header(nonce: &[u8]) -> String {
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        r#"<s:Header><wsse:Security s:mustUnderstand="1" xmlns:wsse="{WSSE_NS}" xmlns:wsu="{WSU_NS}"><wsse:UsernameToken><wsse:Username>{USER}</wsse:Username><wsse:Password Type="{PASSWORD_DIGEST}">{}</wsse:Password><wsse:Nonce>{}</wsse:Nonce><wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>"#,
        wsse::password_digest(nonce, &created, PASSWORD),
        BASE64.encode(nonce),
    )
}

async fn post(service: &Spawned, path: &str, body: String) -> (u16, String, String) {
    let request = service.post(path).body(body);
    let request = request.header("content-type", "text/xml; charset=utf-8");
    parts(request.go().await).await
}

#[tokio::test]
async fn a_nonce_used_on_one_service_is_refused_by_the_other() {
    let pair = required().await;
    let ns = "http://schemas.xmlsoap.org/soap/envelope/";
    let header = digest_header(uuid::Uuid::new_v4().as_bytes());
    let lookup = format!(
        r#"<s:Envelope xmlns:s="{ns}">{header}<s:Body><w:getUserByUsername xmlns:w="http://www.example.org/webservice"><w:username>nobody</w:username></w:getUserByUsername></s:Body></s:Envelope>"#
    );
    // Authenticated: the lookup itself answers (nobody is registered).
    let (status, _, body) = post(&pair.lookup, "/user/soap", lookup).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("User not found"), "{body}");
    let register = format!(
        r#"<s:Envelope xmlns:s="{ns}">{header}<s:Body><u:RegisterUser xmlns:u="http://example.com/user"/></s:Body></s:Envelope>"#
    );
    let (status, _, body) = post(&pair.soap, "/register", register).await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("<faultcode>wsse:FailedAuthentication</faultcode>"),
        "{body}"
    );
}

#[tokio::test]
async fn with_the_mode_off_a_security_header_is_refused_as_before() {
    let pair = start(&[]).await;
    let ns = "http://schemas.xmlsoap.org/soap/envelope/";
    let header = digest_header(b"nonce");
    let register = format!(
        r#"<s:Envelope xmlns:s="{ns}">{header}<s:Body><u:RegisterUser xmlns:u="http://example.com/user"/></s:Body></s:Envelope>"#
    );
    let (status, _, body) = post(&pair.soap, "/register", register).await;
    assert_eq!(status, 500);
    assert_eq!(
        body,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>soapenv:MustUnderstand</faultcode><faultstring xml:lang="en">Header block {{{WSSE_NS}}}Security is not understood</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#
        )
    );
}
