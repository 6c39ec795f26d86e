//! Real SOAP clients against the running SOAP services: zeep (strict) and node-soap
//! load each WSDL from the service, register users over SOAP 1.1 and 1.2, look them
//! up through the SOAP operation and the HTTP GET binding, and decode faults. Then a
//! user registered over SOAP logs in through auth.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, process::Command};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

struct System {
    soap: SocketAddr,
    lookup: SocketAddr,
    auth: SocketAddr,
    shutdown: CancellationToken,
}

impl Drop for System {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// user-soap, user-lookup and auth on one fresh database, each on port 0.
async fn start() -> System {
    let db_url = hub_testkit::create_database("soapclients").await;
    let queue = hub_testkit::queue_name("soapclients");
    let vars: HashMap<&str, String> = [
        ("DATABASE_URL", db_url),
        ("AMQP_URL", hub_testkit::amqp_url()),
        ("RABBITMQ_QUEUE", queue),
        ("HOST", "127.0.0.1".into()),
        ("PORT", "0".into()),
        ("PASSWORD_PBKDF2_ITERATIONS", "20000".into()),
        ("SECRET_KEY", format!("secret-{}", uuid::Uuid::new_v4())),
    ]
    .into();
    let source = move |k: &str| vars.get(k).cloned();
    let shutdown = CancellationToken::new();

    let soap = user_soap::App::build(user_soap::Config::from_source(&source).unwrap())
        .await
        .unwrap();
    let lookup = user_lookup::App::build(user_lookup::Config::from_source(&source).unwrap())
        .await
        .unwrap();
    let auth = auth::App::build(auth::Config::from_source(&source).unwrap())
        .await
        .unwrap();
    let sys = System {
        soap: soap.local_addr().unwrap(),
        lookup: lookup.local_addr().unwrap(),
        auth: auth.local_addr().unwrap(),
        shutdown: shutdown.clone(),
    };
    tokio::spawn(soap.run(shutdown.clone()));
    tokio::spawn(lookup.run(shutdown.clone()));
    tokio::spawn(auth.run(shutdown));
    sys
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("soap-clients")
        .join(name)
}

/// Runs a client script off the async workers (the services run on them).
async fn run_client(mut cmd: Command) -> Value {
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("start the client"))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

async fn lookup_get(sys: &System, username: &str) -> String {
    let url = reqwest::Url::parse_with_params(
        &format!("http://{}/user/soap", sys.lookup),
        [("username", username)],
    )
    .unwrap();
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

async fn login(sys: &System, username: &str, password: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("http://{}/login", sys.auth))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Checks what both clients report in common.
async fn check_common(sys: &System, out: &Value, client: &str) {
    for reg in ["register11", "register12"] {
        assert_eq!(
            out[reg]["message"], "User registered successfully",
            "{client} {reg}: {out}"
        );
        let id = out[reg]["id"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{client} {reg}");
        // The stored values round-trip exactly: markup, quotes and non-ASCII.
        let username = out[reg]["username"].as_str().unwrap();
        let envelope = lookup_get(sys, username).await;
        assert!(
            envelope.contains(&format!("<web:id>{id}</web:id>")),
            "{client} {reg}: {envelope}"
        );
        // A user registered over SOAP logs in through auth with the same password.
        assert_eq!(
            login(sys, username, out["password"].as_str().unwrap()).await,
            200,
            "{client} {reg}"
        );
    }
    for inv in ["invalid11", "invalid12"] {
        assert_eq!(out[inv]["field"], "email", "{client} {inv}: {out}");
    }
    assert_eq!(out["lookup11"]["id"], out["register11"]["id"], "{client}");
    assert_eq!(
        out["lookup11"]["username"], out["register11"]["username"],
        "{client}"
    );
}

#[tokio::test]
async fn zeep_in_strict_mode_registers_looks_up_and_decodes_faults() {
    let sys = start().await;
    let mut cmd = Command::new(hub_testkit::python());
    cmd.arg(script("zeep_client.py"))
        .arg(format!("http://{}", sys.soap))
        .arg(format!("http://{}", sys.lookup))
        .arg(tag());
    let out = run_client(cmd).await;
    check_common(&sys, &out, "zeep").await;
    assert_eq!(
        out["invalid11"]["message"],
        "Invalid email: is not an email address"
    );
    assert_eq!(
        out["invalid12"]["message"],
        "Invalid email: is not an email address"
    );
    assert!(
        out["duplicate11"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Duplicate user information detected"),
        "{out}"
    );
    assert_eq!(out["lookup12"], out["lookup11"]);
    assert_eq!(
        out["lookup_get"]["id"], out["register12"]["id"],
        "HTTP GET binding: {out}"
    );
    assert_eq!(out["lookup_get"]["username"], out["register12"]["username"]);
    assert_eq!(out["lookup_missing"]["detail"], "User not found");
}

#[tokio::test]
async fn node_soap_registers_looks_up_and_decodes_faults() {
    let sys = start().await;
    let mut cmd = Command::new("node");
    cmd.arg(script("node_client.js"))
        .arg(format!("http://{}", sys.soap))
        .arg(format!("http://{}", sys.lookup))
        .arg(tag())
        .env("NODE_PATH", hub_testkit::env("HUB_NODE_PATH"));
    let out = run_client(cmd).await;
    check_common(&sys, &out, "node-soap").await;
    assert_eq!(
        out["invalid11"]["reason"], "Invalid email: is not an email address",
        "{out}"
    );
    assert_eq!(out["lookup_missing"]["message"], "User not found", "{out}");
}
