//! Real SOAP clients against the running SOAP services: zeep (strict) and node-soap
//! load each WSDL from the service, register users over SOAP 1.1 and 1.2, look them
//! up through the SOAP operation and the HTTP GET binding, and decode faults. Then a
//! user registered over SOAP logs in through auth.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::{path::PathBuf, process::Command};

use common::{System, start};
use serde_json::{Value, json};

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
    for name in ["duplicate11", "duplicate12"] {
        assert_eq!(out[name]["field"], "username", "{name}: {out}");
        assert_eq!(
            out[name]["message"], "username is already registered",
            "{name}: {out}"
        );
    }
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
    for name in ["duplicate11", "duplicate12"] {
        assert_eq!(out[name]["field"], "username", "{name}: {out}");
        assert_eq!(
            out[name]["reason"], "username is already registered",
            "{name}: {out}"
        );
    }
}
